"""How one Modbus device is read: its reads on the shared connection, then the decoder.

The schedule, backoff and night mode are the generic ``DevicePoller``'s; this adds the reads.
A device whose profile says ``sunspec: {discover: true}`` has no register layout until its
SunSpec model chain has been read from it. That happens on its first poll, not at start-up,
so a device that is off does not hold the others up: until discovery succeeds its polls fail
with a SourceError and back off like any unreachable device's.
"""

from __future__ import annotations

import logging
from typing import Any

from collector.errors import DeviceException, SourceError
from collector.reading import Reading
from collector.sources.modbus.decode import DeviceDecoder
from collector.sources.modbus.discovery import DiscoveryError, resolve_discovered
from collector.sources.modbus.endpoint import ModbusEndpoint
from collector.sources.modbus.plan import Read
from collector.sources.polling import DevicePoller
from config.profiles import Profile

log = logging.getLogger(__name__)

# Modbus exceptions that mean "no such register here": discovery tries the next base
NOT_HERE = {1, 2, 3}


class ModbusPoller(DevicePoller):
    def __init__(self, *args: Any, decoder: DeviceDecoder, endpoint: ModbusEndpoint,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.decoder, self.endpoint = decoder, endpoint

    async def read(self, due_wall: float | None = None) -> Reading:
        async with self.endpoint.cycle(self.device.id, low_priority=self.low_priority) as conn:
            self.note_late(due_wall)
            blocks = [await conn.read(self.device.unit_id, r) for r in self.decoder.reads]
        ts = self.clock.now_ns()
        d = self.decoder.decode(blocks)
        return Reading(
            kind=self.decoder.profile.kind, plant=self.plant.id, device=self.device.id,
            ts_ns=ts, fields=d.fields, quality=d.quality, status=d.status, faults=d.faults,
            village=self.plant.village, counters=self.decoder.counters, wrap_at=d.wrap_at,
        )


class DiscoveringPoller(ModbusPoller):
    """A poller whose device's SunSpec layout is read from the device on its first poll.

    Each device is resolved on its own (two "sunspec-auto" inverters may carry different
    models or MPPT counts), once; a failed discovery is a failed poll, retried with backoff.
    """

    def __init__(self, *args: Any, max_hole: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._max_hole = max_hole
        self.resolved: Profile | None = None  # the template until the device has been read

    async def read(self, due_wall: float | None = None) -> Reading:
        if self.resolved is None:
            await self._discover()
        return await super().read(due_wall)

    async def _discover(self) -> None:
        dev = self.device
        async with self.endpoint.cycle(dev.id, low_priority=self.low_priority) as conn:
            async def read(address: int, count: int) -> list[int] | None:
                try:
                    return await conn.read(dev.unit_id, Read("holding", address, count))
                except DeviceException as e:
                    if e.code in NOT_HERE:
                        return None
                    raise
            try:
                profile = await resolve_discovered(self.decoder.profile, read)
            except DiscoveryError as e:
                raise SourceError(dev.id, f"SunSpec discovery failed: {e}") from e
        self.decoder = DeviceDecoder(profile, self._max_hole)
        self.resolved = profile
        log.info("%s: SunSpec models %s at %d (%d reads per poll)", dev.id,
                 ", ".join(str(b.model_id) for b in profile.sunspec_blocks),
                 profile.sunspec_base, len(self.decoder.reads))
