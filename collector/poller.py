"""One task per device: poll on a drift-free schedule, decode, hand the reading to the sink.

The schedule is k * interval (+ this device's jitter) on the collector's clock, so a slow poll
delays only itself and never shifts the ones after it. A failing device backs off
exponentially, by skipping slots, and never delays the others.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from collector.clock import SimClock
from collector.decode import DeviceDecoder
from collector.errors import SourceError
from collector.modbus import ModbusEndpoint
from collector.reading import Reading
from config.schema import Device, Plant

log = logging.getLogger(__name__)

Deliver = Callable[[Sequence[Reading]], Awaitable[None]]
PollHook = Callable[[str, bool, float, int | None], None]  # device, ok, latency_s, ts_ns


@dataclass
class DeviceState:
    polls: int = 0
    failures: int = 0
    consecutive_failures: int = 0
    skipped_slots: int = 0
    last_good_ns: int | None = None
    last_error: str | None = None
    late_s: list[float] = field(default_factory=list)  # lateness of each poll start, real s


class DevicePoller:
    def __init__(self, plant: Plant, device: Device, decoder: DeviceDecoder,
                 endpoint: ModbusEndpoint, clock: SimClock, deliver: Deliver,
                 max_backoff_s: float = 300.0, jitter_s: float = 0.0,
                 on_poll: PollHook | None = None) -> None:
        self.plant, self.device, self.decoder = plant, device, decoder
        self.endpoint, self.clock, self.deliver = endpoint, clock, deliver
        self.max_backoff_s = max_backoff_s
        self.offset_ns = int(random.Random(device.id).uniform(0, jitter_s) * 1e9)
        self.on_poll = on_poll
        self.state = DeviceState()

    async def poll_once(self) -> Reading:
        blocks = [await self.endpoint.read(self.device.id, self.device.unit_id, r)
                  for r in self.decoder.reads]
        ts = self.clock.now_ns()
        d = self.decoder.decode(blocks)
        return Reading(
            kind=self.decoder.profile.kind, plant=self.plant.id, device=self.device.id,
            ts_ns=ts, fields=d.fields, quality=d.quality, status=d.status, faults=d.faults,
            village=self.plant.village,
        )

    async def run(self) -> None:
        interval_ns = int(self.device.poll_interval_s * 1e9)
        now = self.clock.now_ns()
        slot = math.ceil((now - self.offset_ns) / interval_ns)
        skip = 0
        while True:
            due_ns = slot * interval_ns + self.offset_ns
            wait = self.clock.wall_for(due_ns) - time.time()
            if wait > 0:
                await asyncio.sleep(wait)
            slot += 1
            if skip:
                skip -= 1
                self.state.skipped_slots += 1
                continue
            self.state.late_s.append(max(0.0, -wait))
            del self.state.late_s[:-1000]
            skip = await self._poll_slot()
            # behind by more than a slot (a long outage, a suspended laptop): catch up, not burst
            now = self.clock.now_ns()
            behind = (now - self.offset_ns) // interval_ns + 1
            if behind > slot:
                self.state.skipped_slots += behind - slot
                slot = behind

    async def _poll_slot(self) -> int:
        """Poll once; return how many slots to skip (backoff)."""
        st = self.state
        st.polls += 1
        t0 = time.perf_counter()
        try:
            reading = await self.poll_once()
        except SourceError as e:
            st.failures += 1
            st.consecutive_failures += 1
            if st.consecutive_failures == 1 or str(e) != st.last_error:
                log.warning("%s (plant %s): %s", self.device.id, self.plant.id, e)
            st.last_error = str(e)
            if self.on_poll:
                self.on_poll(self.device.id, False, time.perf_counter() - t0, None)
            max_skip = max(0, int(self.max_backoff_s / self.device.poll_interval_s) - 1)
            return min(2 ** (st.consecutive_failures - 1) - 1, max_skip)
        if st.consecutive_failures:
            log.info("%s: answering again after %d failed polls", self.device.id,
                     st.consecutive_failures)
        st.consecutive_failures = 0
        st.last_error = None
        st.last_good_ns = reading.ts_ns
        if self.on_poll:
            self.on_poll(self.device.id, True, time.perf_counter() - t0, reading.ts_ns)
        await self.deliver([reading])
        return 0
