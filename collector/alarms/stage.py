"""The alarm stage: after the counter guard, it sees every reading from every source.

    readings --> detectors (per reading) --signals--> Lifecycle --transitions--> Publisher
    timer    --> detectors (silence, windows, sunset, the spool)  /     (SQLite, sinks,
    CLI acks (polled from SQLite) -----------------------------/       notifications)

``process`` is synchronous and cheap: detectors compare a reading with what they remember and
the lifecycle updates a dict; storing, writing the ``alarm`` points to the sinks and sending
notifications happen in tasks of the stage's own (publisher.py, notify/). A timer task judges
what no reading can show (a device gone silent, a yield window, a day's capability at sunset),
clears alarms whose hold ran out, and picks up acknowledgements made with the CLI.

The collector starts the stage after its sinks and before its sources, and stops it after the
sources and before the sinks, so its last transitions still reach the sinks.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

from collector.alarm_catalog import AlarmCatalog, load_alarm_catalog
from collector.alarms.builtin import Builtins
from collector.alarms.detect.capability import CapabilityDetector, CapabilityJob
from collector.alarms.detect.codes import CodeDetector
from collector.alarms.detect.comm import CommLossDetector
from collector.alarms.detect.performance import (
    PeerYieldDetector,
    StringDetector,
    ZeroOutputDetector,
)
from collector.alarms.detect.quality import CounterDetector, SpoolDetector, StuckDetector
from collector.alarms.detect.sun import SunTracker
from collector.alarms.detect.thresholds import ThresholdDetector
from collector.alarms.fleet import fleet_info
from collector.alarms.lifecycle import Lifecycle
from collector.alarms.model import State, Transition
from collector.alarms.notify.dispatcher import Dispatcher
from collector.alarms.notify.messages import Renderer
from collector.alarms.points import MEASUREMENT
from collector.alarms.publisher import Publisher, StoreThread
from collector.pipeline.counters import CounterStage
from collector.pipeline.stages import Pipeline
from collector.reading import Reading
from config.profiles import ProfileRegistry
from config.schema import Config
from influx.lineprotocol import PRECISION_DIVISOR
from reports.kpi.expected import Geometry, expected_energy_kwh
from statedb.db import CollectorLock
from timebase.clock import Clock

log = logging.getLogger(__name__)

ACK_POLL_S = 1.0  # real seconds between looks for acknowledgements made with the CLI
STALL_MIN_S = 0.05  # a timer wake-up later than this (and than a tick) was a standstill
SKIP_KINDS = frozenset({MEASUREMENT, "kpi"})  # readings stages make, not devices

Check = Callable[[Reading, Lifecycle], None]
Timer = Callable[[int, Lifecycle], None]


class AlarmStage:
    name = "alarms"

    def __init__(self, config: Config, registry: ProfileRegistry,
                 counters: CounterStage | None = None,
                 catalog: AlarmCatalog | None = None) -> None:
        self.config = config
        s = self.settings = config.alarms
        self.fleet = fleet_info(config, registry,
                                None if counters is None else counters.ratings)
        b = self.builtins = Builtins(s, catalog or load_alarm_catalog())
        self.sun = SunTracker(self.fleet.plants, self.fleet.night_elevation_deg)
        self.unit_ns = PRECISION_DIVISOR[config.influxdb.precision]
        self.lifecycle = Lifecycle(s, unit_ns=self.unit_ns)
        devices, plants, p, q = self.fleet.devices, self.fleet.plants, s.performance, \
            s.data_quality
        self.comm = CommLossDetector(b, devices, self.sun, s.comm_loss.missed_polls, s.tick_s,
                                     s.comm_loss.min_elevation_deg) \
            if s.comm_loss.enabled else None
        self.peers = PeerYieldDetector(b, p.peers, plants, devices) if p.peers.enabled else None
        self.capability = CapabilityDetector(b, p.capability, plants, devices) \
            if p.capability.enabled else None
        self.spool = SpoolDetector(b, config.site.id) if q.spool else None
        event_of = None
        if counters is not None:
            def event_of(device: str, field: str) -> str | None:
                return next((e.kind for e in reversed(counters.events_of(device))
                             if e.field == field), None)
        checks: list[Check | None] = [
            CodeDetector(b, devices).check, ThresholdDetector(s.thresholds).check,
            ZeroOutputDetector(b, p.zero_output, self.sun).check
            if p.zero_output.enabled else None,
            StringDetector(b, p.strings).check if p.strings.enabled else None,
            CounterDetector(b, event_of).check if q.counters else None,
            StuckDetector(b, q.stuck, self.sun, self.fleet).check if q.stuck.enabled else None]
        self._checks = [c for c in checks if c is not None]
        self._observers = [d.observe for d in (self.peers, self.capability) if d is not None]
        self._timers: list[Timer] = [d.tick for d in (self.comm, self.peers, self.spool)
                                     if d is not None]
        self._geometry = {pl.id: Geometry.of(pl) for pl in config.plants()}
        self._expected: dict[tuple[str, int, int], float] = {}
        self.clock: Clock | None = None
        self.thread: StoreThread | None = None
        self.publisher: Publisher | None = None
        self.dispatcher: Dispatcher | None = None
        self.unstarted: list[Transition] = []  # made before start (tests): not persisted
        self._lock = CollectorLock(config.state_path)
        self._tick_task: asyncio.Task[None] | None = None
        self._taken_acks: set[int] = set()
        self.errors = 0  # readings the detectors failed on (logged once per error)
        self._last_error: str | None = None

    # -- the pipeline's side: per batch of readings ---------------------------------------
    def process(self, readings: list[Reading]) -> list[Reading]:
        lc, comm, checks, observers = self.lifecycle, self.comm, self._checks, self._observers
        # comm-loss is judged on the timer's clock: when a reading arrives, not when it was
        # taken (a pushed device's readings come late, stamped by the edge; detect/comm.py)
        now = self.clock.now_ns() if self.clock is not None else None
        for r in readings:
            if r.kind in SKIP_KINDS:
                continue
            try:
                if comm is not None:
                    comm.seen(r, lc, now)
                for check in checks:
                    check(r, lc)
                for observe in observers:
                    observe(r)
            except Exception as e:  # a bug here must never keep a reading from the sinks
                self._failed(r, e)
        if lc.pending():
            self._flush()
        return readings

    def _failed(self, r: Reading, e: Exception) -> None:
        self.errors += 1
        if repr(e) != self._last_error:
            log.exception("alarm detectors failed on a reading of %s (plant %s); the reading "
                          "goes on to the sinks", r.device, r.plant)
            self._last_error = repr(e)

    def _flush(self) -> None:
        out = self.lifecycle.drain()
        if not out:
            return
        if self.publisher is None:
            self.unstarted += out
        else:
            self.publisher.put(out)

    # -- lifecycle ------------------------------------------------------------------------
    async def start(self, pipeline: Pipeline, clock: Clock) -> None:
        self.clock = clock
        self._lock.acquire()
        try:
            await self._open(pipeline, clock)
        except BaseException:
            await self.stop()
            raise

    async def _open(self, pipeline: Pipeline, clock: Clock) -> None:
        self.thread = StoreThread(self.config.state_path)
        store = await self.thread.open()
        open_alarms, next_id = await self.thread.run(store.load_open)
        self.lifecycle = Lifecycle(self.settings, open_alarms, next_id, self.unit_ns)
        self.unstarted = []
        n = self.settings.notify
        if n.channels:
            names = {p.id: p.name for p in self.config.plants()}
            zones = {p.id: p.timezone for p in self.config.plants()}

            def zone(pid: str) -> str:
                return zones.get(pid, "Asia/Shanghai")

            renderers = {lang: Renderer(lang, names, zone) for lang in ("zh", "en")}

            async def done(sent: object, failed: object, dropped: object) -> None:
                assert self.thread is not None and self.thread.store is not None
                await self.thread.run(self.thread.store.outbox_done, sent, failed, dropped)

            self.dispatcher = Dispatcher(n, renderers, done)
        self.publisher = Publisher(self.thread, pipeline.deliver, n.rules, self.dispatcher)
        self.publisher.start()
        # what a stopped collector left behind: unpublished transitions, unsent notifications
        for t in await self.thread.run(store.unpublished):
            if t.origin == "cli":
                self._take_ack(t)
            else:
                self.publisher.put([t], routed=True)
        if self.dispatcher is not None:
            await self.dispatcher.start(await self.thread.run(store.pending_outbox))
        if self.spool is not None:
            self.spool.watch(pipeline.sinks)
        self.sun.update(clock.now_ns())
        self._flush()
        log.info("alarm stage: %d open alarms from %s", len(open_alarms),
                 self.config.state_path)
        self._tick_task = asyncio.create_task(self._tick_loop(), name="alarm-timer")

    async def stop(self) -> None:
        if self._tick_task is not None:
            self._tick_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._tick_task
            self._tick_task = None
        try:
            if self.publisher is not None:
                self._flush()
                await self.publisher.stop()  # stored and handed to the sinks, still open
            if self.dispatcher is not None:
                await self.dispatcher.stop()  # unsent ones stay in the outbox
        finally:
            if self.thread is not None:
                await self.thread.close()
            self.publisher = self.dispatcher = self.thread = None
            self._lock.release()

    async def flush(self) -> None:
        """Wait until every transition so far is stored and handed to the sinks (tests)."""
        self._flush()
        if self.publisher is not None:
            await self.publisher.flush()

    # -- the timer ------------------------------------------------------------------------
    async def _tick_loop(self) -> None:
        assert self.clock is not None
        period = max(self.clock.real_seconds(self.settings.tick_s), 0.01)
        last_acks = 0.0
        failing: str | None = None
        while True:
            try:
                await self.tick(self.clock.now_ns())
                if time.monotonic() - last_acks >= ACK_POLL_S:
                    last_acks = time.monotonic()
                    await self._poll_acks()
                failing = None
            except Exception as e:  # a bug or the disk: the timer must go on
                if failing != repr(e):
                    log.exception("alarm timer failed")
                    failing = repr(e)
            asleep = time.monotonic()
            await asyncio.sleep(period)
            # a wake-up far later than asked: the whole process stood still (blocked, starved,
            # suspended); nobody polled meanwhile, so it is no device's silence
            late = time.monotonic() - asleep - period
            if late > max(STALL_MIN_S, period) and self.comm is not None:
                self.comm.excuse(int(late * self.clock.speed * 1e9))

    def sync_tick(self, now_ns: int) -> list[CapabilityJob]:
        """The timer's work on the event loop; returns the days to judge against pvlib."""
        lc = self.lifecycle
        rose, set_ = self.sun.update(now_ns)
        for timer in self._timers:
            timer(now_ns, lc)
        jobs = self.capability.tick(now_ns, rose, set_) if self.capability is not None else []
        lc.tick(now_ns)
        self._flush()
        return jobs

    async def tick(self, now_ns: int) -> None:
        for job in self.sync_tick(now_ns):
            assert self.capability is not None
            self.capability.judge(job, await self._expected_kwh(job), self.lifecycle)
        self._flush()

    async def _expected_kwh(self, job: CapabilityJob) -> float:
        key = (job.plant, job.start_ns, job.end_ns)
        if key not in self._expected:
            g = self._geometry[job.plant]
            self._expected[key] = await asyncio.to_thread(
                expected_energy_kwh, g, job.start_ns, job.end_ns, self.config.kpi.pr_reference)
        return self._expected[key]

    async def _poll_acks(self) -> None:
        if self.thread is None or self.thread.store is None:
            return
        rows = await self.thread.run(self.thread.store.unpublished, "cli")
        for t in rows:
            if t.db_id not in self._taken_acks:
                self._take_ack(t)
        # those no longer unpublished are published: forget them
        self._taken_acks = {t.db_id for t in rows if t.db_id is not None}
        self._flush()

    def _take_ack(self, t: Transition) -> None:
        if t.db_id is not None:
            self._taken_acks.add(t.db_id)
        if t.state is not State.ACKNOWLEDGED or not self.lifecycle.acknowledge(
                t.alarm.id, t.ts_ns, t.actor or "", t.note, recorded=t):
            assert self.publisher is not None
            self.publisher.put([t])  # closed meanwhile, or known already: publish it as is
