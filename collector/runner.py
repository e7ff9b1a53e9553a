"""The collector: one poller per device, shared endpoints per host:port, one sink.

A device whose profile says ``sunspec: {discover: true}`` has no register layout until its
SunSpec model chain has been read from it. That happens on its first poll, not at start-up,
so a device that is off does not hold the others up: until discovery succeeds its polls fail
with a SourceError and back off like any unreachable device's.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from collector.errors import DeviceException, SourceError
from collector.pipeline.counters import CounterGuard
from collector.reading import Reading
from collector.sources.modbus.decode import DeviceDecoder
from collector.sources.modbus.discovery import DiscoveryError, resolve_discovered
from collector.sources.modbus.endpoint import EndpointOptions, ModbusEndpoint
from collector.sources.modbus.plan import Read
from collector.sources.modbus.poller import Deliver, DevicePoller, NightMode, PollHook
from config.profiles import Profile, ProfileRegistry, load_registry
from config.schema import CollectorSettings, Config, Device, Plant
from timebase.clock import Clock

METER_HEADROOM = 1.2  # a grid meter sees at most the plant's AC capacity, plus margin
# Modbus exceptions that mean "no such register here": discovery tries the next base
NOT_HERE = {1, 2, 3}

log = logging.getLogger(__name__)
STOP_TIMEOUT_S = 10.0


class Collector:
    def __init__(self, config: Config, deliver: Deliver, clock: Clock | None = None,
                 registry: ProfileRegistry | None = None,
                 on_poll: PollHook | None = None) -> None:
        registry = registry or load_registry()
        self.clock = clock or Clock.real()
        cs = config.collector
        self.endpoints: dict[tuple[str, int], ModbusEndpoint] = {}
        for _, gw in config.gateways():
            self.endpoints[(gw.host, gw.port)] = ModbusEndpoint(
                gw.host, gw.port, name=f"gateway {gw.id} ({gw.host}:{gw.port})",
                options=EndpointOptions(
                    timeout_s=gw.timeout_s or cs.timeout_s,
                    pause_after_connect_s=gw.pause_after_connect_s,
                    pause_between_requests_s=gw.pause_between_requests_s,
                    close_after_cycle=gw.close_after_cycle))
        decoders: dict[str, DeviceDecoder] = {}
        self.pollers: list[DevicePoller] = []
        for plant, dev in config.devices():
            profile = registry[dev.profile]
            if dev.profile not in decoders:
                decoders[dev.profile] = DeviceDecoder(profile, cs.max_hole)
            key = (dev.host, dev.port)
            if key not in self.endpoints:
                self.endpoints[key] = ModbusEndpoint(dev.host, dev.port, cs.timeout_s)
            options = dict(max_backoff_s=cs.max_backoff_s, jitter_s=cs.jitter_s,
                           on_poll=on_poll, guard=counter_guard(plant, dev, profile, registry),
                           night=night_mode(plant, dev, profile, cs))
            args = (plant, dev, decoders[dev.profile], self.endpoints[key], self.clock, deliver)
            if profile.sunspec_discover:
                self.pollers.append(DiscoveringPoller(*args, registry=registry,
                                                      max_hole=cs.max_hole, **options))
            else:
                self.pollers.append(DevicePoller(*args, **options))
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        self._tasks = [asyncio.create_task(p.run(), name=f"poll-{p.device.id}")
                       for p in self.pollers]
        log.info("polling %d devices on %d endpoints", len(self.pollers), len(self.endpoints))

    async def stop(self, timeout_s: float = STOP_TIMEOUT_S) -> None:
        """Cancel every poll task and wait for them, bounded.

        Python 3.11's ``asyncio.wait_for`` can swallow a cancellation that arrives as the
        awaited read completes, so one cancel may not end a task: each poller also checks a
        stop flag, and tasks still running are cancelled again until the deadline.
        """
        for p in self.pollers:
            p.stopping = True
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        pending = {t for t in self._tasks if not t.done()}
        while pending and loop.time() < deadline:
            for t in pending:
                t.cancel()
            _, pending = await asyncio.wait(pending, timeout=min(0.5, timeout_s))
        for t in pending:
            log.error("%s did not stop within %.0f s; abandoning it", t.get_name(), timeout_s)
        for t in self._tasks:
            if t.done() and not t.cancelled() and (exc := t.exception()) is not None:
                log.error("%s had failed: %r", t.get_name(), exc)
        for e in self.endpoints.values():
            with contextlib.suppress(Exception):
                await asyncio.wait_for(e.close(), 5)

    async def __aenter__(self) -> Collector:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()


class DiscoveringPoller(DevicePoller):
    """A poller whose device's SunSpec layout is read from the device on its first poll.

    Each device is resolved on its own (two "sunspec-auto" inverters may carry different
    models or MPPT counts), once; a failed discovery is a failed poll, retried with backoff.
    """

    def __init__(self, *args: Any, registry: ProfileRegistry, max_hole: int,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._registry = registry
        self._max_hole = max_hole
        self.resolved: Profile | None = None  # the template until the device has been read

    async def poll_once(self, due_wall: float | None = None) -> Reading:
        if self.resolved is None:
            await self._discover()
        return await super().poll_once(due_wall)

    async def _discover(self) -> None:
        dev = self.device
        low = self.state.consecutive_failures > 0
        async with self.endpoint.cycle(dev.id, low_priority=low) as conn:
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
        self.guard = counter_guard(self.plant, dev, profile, self._registry)
        self.resolved = profile
        log.info("%s: SunSpec models %s at %d (%d reads per poll)", dev.id,
                 ", ".join(str(b.model_id) for b in profile.sunspec_blocks),
                 profile.sunspec_base, len(self.decoder.reads))


def rated_kw(plant: Plant, device: Device, profile: Profile, registry: ProfileRegistry) -> float:
    """The most power the device can pass: the ceiling for its counters' rise.

    An inverter's own rating wins; otherwise the larger of its share of the plant's AC and its
    profile's rating, because a ceiling set too low would reject good readings.
    """
    if profile.kind == "meter":
        return plant.capacity_kw_ac * METER_HEADROOM
    if device.rated_kw_ac:
        return device.rated_kw_ac
    inverters = [d for d in plant.all_devices()
                 if d.profile in registry and registry[d.profile].kind == "inverter"]
    share = plant.capacity_kw_ac / max(1, len(inverters))
    return max(share, profile.rated_kw_ac or 0.0)


def counter_guard(plant: Plant, device: Device, profile: Profile,
                  registry: ProfileRegistry) -> CounterGuard | None:
    counters = {p.field: p.counter for p in profile.points
                if p.field and p.counter and p.role == "value"}
    if not counters:
        return None
    return CounterGuard(device.id, counters, rated_kw(plant, device, profile, registry),
                        plant.timezone)


def night_mode(plant: Plant, device: Device, profile: Profile,
               cs: CollectorSettings) -> NightMode | None:
    """Inverters sleep at night; a meter is powered from the grid and never does."""
    if profile.kind != "inverter" or not device.night_mode:
        return None
    return NightMode(plant.latitude, plant.longitude, cs.night_elevation_deg,
                     cs.night_poll_factor)
