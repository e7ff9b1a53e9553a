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

from collector.batching import Deferred, made
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
        self.connection = endpoint  # its devices are walked by one task

    async def read(self, due_wall: float | None = None) -> Reading:
        return made(await self.take(due_wall))

    async def take(self, due_wall: float | None = None) -> Reading | Deferred:
        async with self.endpoint.cycle(self.device.id) as conn:
            self.note_late(due_wall)
            blocks = await conn.read_blocks(self.device.unit_id, self.decoder.reads)
        answers = Answers(self, self.decoder, blocks, self.clock.now_ns())
        return answers if self.batcher is not None else answers.reading()


class Answers:
    """One poll's answers, decoded into its reading when asked (in its batch: ``Deferred``).

    It keeps the decoder it was read with: a discovering poller's decoder changes once.
    """

    __slots__ = ("blocks", "decoder", "poller", "ts_ns")

    def __init__(self, poller: ModbusPoller, decoder: DeviceDecoder, blocks: list[bytes],
                 ts_ns: int) -> None:
        self.poller, self.decoder, self.blocks, self.ts_ns = poller, decoder, blocks, ts_ns

    def reading(self) -> Reading:
        decoder, plant = self.decoder, self.poller.plant
        d = decoder.decode(self.blocks)
        return Reading(
            kind=decoder.profile.kind, plant=plant.id, device=self.poller.device.id,
            ts_ns=self.ts_ns, fields=d.fields, quality=d.quality, status=d.status,
            faults=d.faults, village=plant.village, counters=decoder.counters,
            wrap_at=d.wrap_at,
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

    async def take(self, due_wall: float | None = None) -> Reading | Deferred:
        if self.resolved is None:
            await self._discover()
        return await super().take(due_wall)

    async def _discover(self) -> None:
        dev = self.device
        async with self.endpoint.cycle(dev.id) as conn:
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
