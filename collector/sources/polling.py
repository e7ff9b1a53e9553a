"""Polled sources: each device on a drift-free schedule, whatever the protocol.

The schedule is k * interval (+ this device's jitter) on the collector's clock, so a slow poll
delays only itself and never shifts the ones after it. A failing device backs off
exponentially, by skipping slots, and asks for the shared connection after the healthy ones.
An inverter that stops answering while the sun is down is asleep: it is polled every
``night_poll_factor`` slots, quietly, and at full rate again from dawn.

A protocol (Modbus, DL/T 645) supplies ``DevicePoller.read``: one reading from the device, or
a SourceError. Everything else here (schedule, backoff, night mode, the bounded stop) is shared.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
import zlib
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from collector.batching import Deferred, PollBatcher
from collector.errors import SourceError
from collector.night import is_night
from collector.reading import Reading
from collector.sources.base import Emit
from collector.sources.walk import ConnectionWalk
from config.schema import Device, Plant
from timebase.clock import Clock

log = logging.getLogger(__name__)

PollHook = Callable[[str, bool, float, int | None], None]  # device, ok, latency_s, ts_ns
STOP_TIMEOUT_S = 10.0
# lateness kept per device, the newest: enough for tests and benchmarks, and bounded (20,000
# devices x 1,000 floats, as before, held half a gigabyte)
LATE_KEPT = 64


@dataclass
class DeviceState:
    polls: int = 0  # completed: counted once the reading was emitted (or the poll failed)
    failures: int = 0
    consecutive_failures: int = 0
    skipped_slots: int = 0
    last_good_ns: int | None = None
    last_error: str | None = None
    # real seconds from a slot's due instant to the moment this device got the connection:
    # what a dead neighbour on the same gateway costs it
    late_s: deque[float] = field(default_factory=lambda: deque(maxlen=LATE_KEPT))
    sleeping: bool = False  # silent at night: expected, not a failure
    night_polls: int = 0  # polls that found it asleep


class SharedConnection(Protocol):
    """A connection several devices take turns on (``ModbusEndpoint``, ``Dlt645Link``)."""

    label: str


@dataclass(frozen=True, slots=True)
class NightMode:
    latitude: float
    longitude: float
    below_deg: float = 3.0
    poll_factor: int = 10


def jitter_offset_ns(device_id: str, jitter_s: float) -> int:
    """A device's stable start offset in [0, jitter_s): the same on every run and process
    (a CRC, not ``hash()``, which Python salts per process; and cheap: 20,000 at start-up)."""
    return int(zlib.crc32(device_id.encode()) / 2**32 * jitter_s * 1e9)


class DevicePoller:
    """The schedule of one device; subclasses say how to read it (``read``)."""

    def __init__(self, plant: Plant, device: Device, clock: Clock, emit: Emit,
                 max_backoff_s: float = 300.0, jitter_s: float = 0.0,
                 on_poll: PollHook | None = None, night: NightMode | None = None) -> None:
        self.plant, self.device = plant, device
        self.clock, self.emit = clock, emit
        self.max_backoff_s = max_backoff_s
        self.offset_ns = jitter_offset_ns(device.id, jitter_s)
        # the device's interval, unless a plan stretched it (an overloaded RS485 bus)
        self.interval_s = device.poll_interval_s
        self.on_poll = on_poll
        self.night = night  # None: never sleeps (meters, night_mode: false)
        self.state = DeviceState()
        # a batching emit makes the reading in its batch: take() may hand it a Deferred, and
        # the batch tells the outcome (_told) instead of this task waiting for it
        self.batcher = emit if isinstance(emit, PollBatcher) else None
        self._told_skip = 0  # slots to skip: a batch said the last reading was not kept
        # what this device shares with others (a gateway's connection, a bus), set by its
        # protocol: the devices of one connection are polled by one walk (walk.py)
        self.connection: SharedConnection | None = None
        self._slot = 0  # the next slot (first_due_ns starts the count)
        self._skip = 0  # slots still to skip: backoff, night

    async def read(self, due_wall: float | None = None) -> Reading:
        """One reading from the device; SourceError when it cannot be had."""
        raise NotImplementedError

    async def take(self, due_wall: float | None = None) -> Reading | Deferred:
        """What one poll hands to ``emit``: the reading, or, where ``self.batcher`` is set, what the
        batch makes it from (a protocol whose decoding is worth batching overrides this)."""
        return await self.read(due_wall)

    @property
    def low_priority(self) -> bool:
        """A failing or sleeping device asks for a shared connection after the healthy ones."""
        return self.state.consecutive_failures > 0 or self.state.sleeping

    def note_late(self, due_wall: float | None) -> None:
        """Record how long after its due instant this device got its connection."""
        if due_wall is not None:
            self.state.late_s.append(max(0.0, time.time() - due_wall))

    def _dark(self, t_ns: int) -> bool:
        n = self.night
        return n is not None and is_night(n.latitude, n.longitude, t_ns, n.below_deg)

    def _interval_ns(self) -> int:
        return int(self.interval_s * 1e9)

    def first_due_ns(self) -> int:
        """Start the schedule: the first slot due from now (collector clock, ns)."""
        interval_ns = self._interval_ns()
        self._slot = math.ceil((self.clock.now_ns() - self.offset_ns) / interval_ns)
        return self.next_due_ns()

    def next_due_ns(self) -> int:
        return self._slot * self._interval_ns() + self.offset_ns

    async def poll_due(self, due_wall: float) -> int:
        """The slot that fell due: poll the device, or skip the slot (backoff, night). Returns
        when the next slot is due (collector clock, ns)."""
        interval_ns = self._interval_ns()
        due_ns = self.next_due_ns()
        self._slot = slot = self._slot + 1
        skip = self._skip
        if self._told_skip:
            skip, self._told_skip = max(skip, self._told_skip), 0
        if skip and self.state.sleeping and not self._dark(due_ns):
            skip = 0  # dawn: back to the full rate at once
        if skip:
            self._skip = skip - 1
            self.state.skipped_slots += 1
            return self.next_due_ns()
        try:
            self._skip = await self._poll_slot(due_wall)
        except asyncio.CancelledError:
            raise
        except Exception as e:  # a bug (a decoder, a stage, a sink) must not end this device
            self._skip = self._failed(e)
        # behind by more than a slot (a long outage, a suspended laptop): catch up, not burst
        behind = (self.clock.now_ns() - self.offset_ns) // interval_ns + 1
        if behind > slot:
            self.state.skipped_slots += behind - slot
            self._slot = behind
        return self.next_due_ns()

    async def poll_once(self) -> int:
        """Poll now and return once the reading is kept (raising if a stage or sink refused
        it): the slots the schedule would skip next (backoff, night). For tests and tools;
        the schedule itself does not wait for the pipeline."""
        return await self._poll_slot(wait=True)

    async def _poll_slot(self, due_wall: float | None = None, wait: bool = False) -> int:
        """Poll once; return how many slots to skip (backoff, or night)."""
        st = self.state
        t0 = time.perf_counter()
        try:
            reading = await self.take(due_wall)
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
        st.last_good_ns = reading.ts_ns
        if self.on_poll:
            self.on_poll(self.device.id, True, time.perf_counter() - t0, reading.ts_ns)
        if self.batcher is not None and not wait:
            # back to the schedule at once: the batch tells how the reading fared, in
            # _told, well before the next slot (its window is a quarter of an interval at most)
            self.batcher.submit([reading], self._told)
            return 0
        await self.emit([reading])  # raising: a failed poll too (run() backs off)
        self._told(None)
        return 0

    def _told(self, failure: Exception | None) -> None:
        """The reading of the last poll was kept (``None``), or a stage or sink refused it."""
        st = self.state
        if failure is not None:
            self._told_skip = self._failed(failure)  # the next slots back off
            return
        if st.consecutive_failures:
            log.info("%s: polled again after %d failed polls", self.device.id,
                     st.consecutive_failures)
        st.consecutive_failures = 0
        st.last_error = None
        st.polls += 1  # once kept: a caller that waits for n polls finds n readings

    def _asleep(self, e: SourceError) -> int:
        st = self.state
        if not st.sleeping:
            log.debug("%s: silent after sunset, asleep (%s)", self.device.id, e)
        st.sleeping = True
        st.night_polls += 1
        st.consecutive_failures = 0  # a night's silence must not lengthen tomorrow's backoff
        assert self.night is not None
        return self.night.poll_factor - 1

    def _failed(self, e: Exception) -> int:
        """Count a failed poll; log it once per change of error; return the slots to skip.

        An unexpected exception (a bug in a decoder, a stage or a sink, or garbage that got
        past them) is a failure like a silent device: it backs off instead of repeating, with
        its traceback logged the first time only, so it can never flood the log.
        """
        st = self.state
        st.sleeping = False
        st.failures += 1
        st.consecutive_failures += 1
        text = str(e) if isinstance(e, SourceError) else f"{type(e).__name__}: {e}"
        if st.consecutive_failures == 1 or text != st.last_error:
            if isinstance(e, SourceError):
                log.warning("%s (plant %s): %s", self.device.id, self.plant.id, e)
            else:
                log.error("%s (plant %s): poll failed unexpectedly: %s", self.device.id,
                          self.plant.id, text, exc_info=e)
        else:
            log.debug("%s: failing again: %s", self.device.id, text)
        st.last_error = text
        max_skip = max(0, int(self.max_backoff_s / self.interval_s) - 1)
        return min(2 ** (st.consecutive_failures - 1) - 1, max_skip)


class PolledSource:
    """A source made of device pollers, walked one task per shared connection (``walk.py``),
    started together, stopped bounded.

    Subclasses fill ``self.pollers`` when they are built (so tools and tests can look at a
    device's poller before anything runs) and close their connections in ``_close``.
    """

    name = "polled"

    def __init__(self) -> None:
        self.pollers: list[DevicePoller] = []
        self.walks: list[ConnectionWalk] = []
        self._tasks: list[asyncio.Task[None]] = []

    async def _close(self) -> None:
        """Close connections once every poll task has ended."""

    async def start(self) -> None:
        shared: dict[int, list[DevicePoller]] = {}  # by the connection's identity
        for p in self.pollers:
            shared.setdefault(id(p.connection or p), []).append(p)
        self.walks = [ConnectionWalk(ps, c.label if (c := ps[0].connection) else ps[0].device.id)
                      for ps in shared.values()]
        self._tasks = [asyncio.create_task(w.run(), name=f"poll-{w.name}")
                       for w in self.walks]

    async def stop(self, timeout_s: float = STOP_TIMEOUT_S) -> None:
        """Cancel every poll task and wait for them, bounded.

        Python 3.11's ``asyncio.wait_for`` can swallow a cancellation that arrives as the
        awaited read completes, so one cancel may not end a task: each walk also checks a
        stop flag, and tasks still running are cancelled again until the deadline.
        """
        for w in self.walks:
            w.stopping = True
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
        await self._close()
