"""The collector: one poller per device, shared endpoints per host:port, one sink."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from collector.clock import SimClock
from collector.decode import DeviceDecoder
from collector.modbus import ModbusEndpoint
from collector.poller import Deliver, DevicePoller, PollHook
from config.profiles import ProfileRegistry, load_registry
from config.schema import Config

log = logging.getLogger(__name__)


class Collector:
    def __init__(self, config: Config, deliver: Deliver, clock: SimClock | None = None,
                 registry: ProfileRegistry | None = None,
                 on_poll: PollHook | None = None) -> None:
        registry = registry or load_registry()
        self.clock = clock or SimClock.real()
        cs = config.collector
        self.endpoints: dict[tuple[str, int], ModbusEndpoint] = {}
        decoders: dict[str, DeviceDecoder] = {}
        self.pollers: list[DevicePoller] = []
        for plant, dev in config.devices():
            if dev.profile not in decoders:
                decoders[dev.profile] = DeviceDecoder(registry[dev.profile], cs.max_hole)
            key = (dev.host, dev.port)
            if key not in self.endpoints:
                self.endpoints[key] = ModbusEndpoint(dev.host, dev.port, cs.timeout_s)
            self.pollers.append(DevicePoller(
                plant, dev, decoders[dev.profile], self.endpoints[key], self.clock, deliver,
                max_backoff_s=cs.max_backoff_s, jitter_s=cs.jitter_s, on_poll=on_poll,
            ))
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        self._tasks = [asyncio.create_task(p.run(), name=f"poll-{p.device.id}")
                       for p in self.pollers]
        log.info("polling %d devices on %d endpoints", len(self.pollers), len(self.endpoints))

    async def stop(self) -> None:
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await t
        for e in self.endpoints.values():
            await e.close()

    async def __aenter__(self) -> Collector:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()
