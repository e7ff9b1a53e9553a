"""One task per device: poll on a drift-free schedule, decode, guard counters, deliver.

The schedule is k * interval (+ this device's jitter) on the collector's clock, so a slow poll
delays only itself and never shifts the ones after it. A failing device backs off
exponentially, by skipping slots, and asks for the shared connection after the healthy ones.
An inverter that stops answering while the sun is down is asleep: it is polled every
``night_poll_factor`` slots, quietly, and at full rate again from dawn.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from collector.errors import SourceError
from collector.night import is_night
from collector.pipeline.counters import CounterEvent, CounterGuard
from collector.reading import Reading
from collector.sources.modbus.decode import DeviceDecoder
from collector.sources.modbus.endpoint import ModbusEndpoint
from config.schema import Device, Plant
from timebase.clock import Clock

log = logging.getLogger(__name__)

Deliver = Callable[[Sequence[Reading]], Awaitable[None]]
PollHook = Callable[[str, bool, float, int | None], None]  # device, ok, latency_s, ts_ns


@dataclass
class DeviceState:
    polls: int = 0  # completed: counted once the reading was delivered (or the poll failed)
    failures: int = 0
    consecutive_failures: int = 0
    skipped_slots: int = 0
    last_good_ns: int | None = None
    last_error: str | None = None
    # real seconds from a slot's due instant to the moment this device got the connection:
    # what a dead neighbour on the same gateway costs it
    late_s: list[float] = field(default_factory=list)
    counter_events: int = 0
    sleeping: bool = False  # silent at night: expected, not a failure
    night_polls: int = 0  # polls that found it asleep


@dataclass(frozen=True, slots=True)
class NightMode:
    latitude: float
    longitude: float
    below_deg: float = 3.0
    poll_factor: int = 10


class DevicePoller:
    def __init__(self, plant: Plant, device: Device, decoder: DeviceDecoder,
                 endpoint: ModbusEndpoint, clock: Clock, deliver: Deliver,
                 max_backoff_s: float = 300.0, jitter_s: float = 0.0,
                 on_poll: PollHook | None = None, guard: CounterGuard | None = None,
                 night: NightMode | None = None) -> None:
        self.plant, self.device, self.decoder = plant, device, decoder
        self.endpoint, self.clock, self.deliver = endpoint, clock, deliver
        self.max_backoff_s = max_backoff_s
        self.offset_ns = int(random.Random(device.id).uniform(0, jitter_s) * 1e9)
        self.on_poll = on_poll
        self.guard = guard
        self.night = night  # None: never sleeps (meters, night_mode: false)
        self.state = DeviceState()
        self.stopping = False  # set by Collector.stop(): a lost cancel still ends the loop
        self.events: deque[CounterEvent] = deque(maxlen=1000)
        self._wrap_at: dict[str, float] = {}  # of the last decode: where counters roll over

    async def poll_once(self, due_wall: float | None = None) -> Reading:
        st = self.state
        low = st.consecutive_failures > 0 or st.sleeping
        async with self.endpoint.cycle(self.device.id, low_priority=low) as conn:
            if due_wall is not None:
                st.late_s.append(max(0.0, time.time() - due_wall))
                del st.late_s[:-1000]
            blocks = [await conn.read(self.device.unit_id, r) for r in self.decoder.reads]
        ts = self.clock.now_ns()
        d = self.decoder.decode(blocks)
        self._wrap_at = d.wrap_at
        return Reading(
            kind=self.decoder.profile.kind, plant=self.plant.id, device=self.device.id,
            ts_ns=ts, fields=d.fields, quality=d.quality, status=d.status, faults=d.faults,
            village=self.plant.village,
        )

    def _dark(self, t_ns: int) -> bool:
        n = self.night
        return n is not None and is_night(n.latitude, n.longitude, t_ns, n.below_deg)

    async def run(self) -> None:
        interval_ns = int(self.device.poll_interval_s * 1e9)
        now = self.clock.now_ns()
        slot = math.ceil((now - self.offset_ns) / interval_ns)
        skip = 0
        while not self.stopping:
            due_ns = slot * interval_ns + self.offset_ns
            due_wall = self.clock.wall_for(due_ns)
            # sleep at most one interval at a time: should the wall clock step back (NTP),
            # the wait is measured again instead of sleeping through the gap
            while (wait := due_wall - time.time()) > 0:
                await asyncio.sleep(min(wait, max(self.clock.real_seconds(
                    self.device.poll_interval_s), 0.01)))
                due_wall = self.clock.wall_for(due_ns)
            slot += 1
            if skip and self.state.sleeping and not self._dark(due_ns):
                skip = 0  # dawn: back to the full rate at once
            if skip:
                skip -= 1
                self.state.skipped_slots += 1
                continue
            try:
                skip = await self._poll_slot(due_wall)
            except asyncio.CancelledError:
                raise
            except Exception:  # a bug (a decoder, a sink) must not silently end this device
                self.state.failures += 1
                log.exception("%s (plant %s): poll failed unexpectedly", self.device.id,
                              self.plant.id)
                skip = 0
            # behind by more than a slot (a long outage, a suspended laptop): catch up, not burst
            now = self.clock.now_ns()
            behind = (now - self.offset_ns) // interval_ns + 1
            if behind > slot:
                self.state.skipped_slots += behind - slot
                slot = behind

    async def _poll_slot(self, due_wall: float | None = None) -> int:
        """Poll once; return how many slots to skip (backoff, or night)."""
        st = self.state
        t0 = time.perf_counter()
        try:
            reading = await self.poll_once(due_wall)
        except SourceError as e:
            st.polls += 1
            if self.on_poll:
                self.on_poll(self.device.id, False, time.perf_counter() - t0, None)
            if self._dark(self.clock.now_ns()):
                return self._asleep(e)
            return self._failed(e)
        if st.sleeping:
            log.debug("%s: awake", self.device.id)
            st.sleeping = False
        if st.consecutive_failures:
            log.info("%s: answering again after %d failed polls", self.device.id,
                     st.consecutive_failures)
        st.consecutive_failures = 0
        st.last_error = None
        st.last_good_ns = reading.ts_ns
        if self.guard is not None:
            reading, events = self.guard.check(reading, self._wrap_at)
            st.counter_events += len(events)
            self.events.extend(events)
        if self.on_poll:
            self.on_poll(self.device.id, True, time.perf_counter() - t0, reading.ts_ns)
        await self.deliver([reading])
        st.polls += 1  # after delivery: a caller that waits for n polls finds n readings
        return 0

    def _asleep(self, e: SourceError) -> int:
        st = self.state
        if not st.sleeping:
            log.debug("%s: silent after sunset, asleep (%s)", self.device.id, e)
        st.sleeping = True
        st.night_polls += 1
        st.consecutive_failures = 0  # a night's silence must not lengthen tomorrow's backoff
        assert self.night is not None
        return self.night.poll_factor - 1

    def _failed(self, e: SourceError) -> int:
        st = self.state
        st.sleeping = False
        st.failures += 1
        st.consecutive_failures += 1
        if st.consecutive_failures == 1 or str(e) != st.last_error:
            log.warning("%s (plant %s): %s", self.device.id, self.plant.id, e)
        st.last_error = str(e)
        max_skip = max(0, int(self.max_backoff_s / self.device.poll_interval_s) - 1)
        return min(2 ** (st.consecutive_failures - 1) - 1, max_skip)
