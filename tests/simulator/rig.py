"""A fleet stepped by hand and the real collector's pollers reading it over Modbus TCP.

The physics is stepped with ``Rig.at`` so every test knows the simulated instant exactly; the
pollers read over TCP from the real simulator servers, as they would in production.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from collector.reading import Reading
from collector.runner import Collector
from collector.sinks.base import CallbackSink
from collector.sources.polling import DevicePoller
from config.schema import Config
from simulator.fleet import Fleet
from tests.simulator.gateway_fleet import bounded
from timebase.clock import Clock

MIN_NS = 60 * 10**9


class Rig:
    def __init__(self, fleet: Fleet, collector: Collector, delivered: list[Reading]) -> None:
        self.fleet = fleet
        self.collector = collector
        self.pollers: dict[str, DevicePoller] = {p.device.id: p for p in collector.pollers}
        self.delivered = delivered
        self.t0 = fleet.clock.sim_start_ns

    def at(self, minutes: float) -> None:
        t = self.t0 + int(minutes * MIN_NS)
        self.fleet.step(t)
        # readings are stamped with the stepped instant, as a running fleet would stamp them
        clock = Clock(t, 1.0, time.time())
        for p in self.pollers.values():
            p.clock = clock

    async def read(self, device: str) -> Reading:
        return await self.pollers[device].read()


@asynccontextmanager
async def rig(cfg: Config) -> AsyncIterator[Rig]:
    clock = Clock.starting(cfg.simulator.start, 1.0)
    fleet = Fleet(cfg, clock)
    delivered: list[Reading] = []

    async def deliver(readings: Sequence[Reading]) -> None:
        delivered.extend(readings)

    collector = Collector(cfg, [CallbackSink(deliver)], clock)
    for s in fleet.servers:
        await s.start()
    try:
        fleet.step(clock.sim_start_ns)
        yield Rig(fleet, collector, delivered)
    finally:
        await bounded(collector.stop(), 20, "collector.stop()")
        for s in fleet.servers:
            await bounded(s.stop(), 10, f"server {s.port} stop()")
