"""The durable InfluxDB sink: batch in memory, append to the spool, deliver from the spool.

    put() -> memory batch --(batch_size or linger_s)--> spool (write-ahead log on disk)
                                                         |
                             max_inflight senders read it in order, POST, then ack

Every batch goes through the spool, so "accepted" means: in the memory batch (at most
``linger_s`` old, the only thing a SIGKILL can lose) or on disk. The senders deliver in order
and retry with capped exponential backoff and jitter; while InfluxDB is down the spool grows
and ``put`` stays fast. Replays never duplicate a point: InfluxDB keeps one point per
(measurement, tag set, timestamp), so re-sending a delivered batch overwrites it with itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Iterable
from enum import Enum

from collector.errors import SinkError, SpoolError
from collector.metrics import Metrics
from collector.reading import Reading
from collector.sinks.quarantine import quarantine
from collector.sinks.spool import Record, Spool, SpoolWrittenError
from collector.sinks.waits import Waits
from config.influx import InfluxSettings
from influx.client import InfluxWriter
from influx.errors import AuthError, InfluxError, Refused, TargetMissing, Unavailable
from influx.lineprotocol import body as lines_body
from influx.lineprotocol import reading_lines

log = logging.getLogger(__name__)

MAX_PENDING_BATCHES = 20  # in memory, only when the spool cannot be written (disk full)
DOWN_LOG_EVERY_S = 60.0


class State(Enum):
    NEW = "new"  # constructed, start() not called
    RUNNING = "running"  # accepting readings
    CLOSING = "closing"  # close() called: no more put(), draining for close_timeout_s
    CLOSED = "closed"  # spool fsynced and closed


class Backoff:
    """Capped exponential backoff with full jitter (delays in [d/2, d])."""

    def __init__(self, initial: float, cap: float) -> None:
        self.initial, self.cap, self._next = initial, cap, initial

    def next(self) -> float:
        d = self._next
        self._next = min(self._next * 2, self.cap)
        return d * (0.5 + random.random() / 2)


class InfluxSink:
    def __init__(self, settings: InfluxSettings, metrics: Metrics | None = None) -> None:
        self.settings = settings
        self.metrics = metrics if metrics is not None else Metrics()
        self.state = State.NEW
        self._writer = InfluxWriter(settings)
        self._spool = Spool(
            settings.spool_dir,
            max_bytes=settings.spool_max_bytes,
            segment_bytes=settings.spool_segment_bytes,
            fsync=settings.fsync,
            fsync_interval_s=settings.fsync_interval_s,
            on_drop=self._on_drop,
            on_corrupt=lambda n: self.metrics.inc("spool_corrupt_bytes", n),
        )
        self._pending: list[str] = []  # accepted readings' lines, not yet on disk
        self._pending_since = 0.0
        self._wake_linger = asyncio.Event()
        self._data = asyncio.Event()  # the spool has something new to read
        self._tasks: list[asyncio.Task[None]] = []
        self._linger_task: asyncio.Task[None] | None = None
        self._down_since: float | None = None  # monotonic time of the first failure
        self._down_logged = 0.0
        self._waits = Waits()  # which undelivered records waited: spooled and replayed
        self._broken: dict[str, str] = {}  # task -> last unexpected error, until it recovers
        self._backlog_points = 0  # points in the spool not yet written or quarantined

    async def __aenter__(self) -> InfluxSink:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # ---- lifecycle -------------------------------------------------------------------------
    async def start(self) -> None:
        if self.state is not State.NEW:
            raise SinkError(f"sink already {self.state.value}")
        self._spool.open()
        self._waits.started(self._spool.write_pos)
        backlog = self._spool.backlog_bytes
        if backlog:
            recovered = self._spool.pending_points()
            self._backlog_points = recovered
            self.metrics.inc("readings_recovered", recovered)
            self.metrics.inc("readings_spooled", recovered)  # they waited, through a restart
            log.info("spool %s holds %d points (%d bytes) from an earlier run: replaying",
                     self.settings.spool_dir, recovered, backlog)
        if self.settings.create_database:
            await self._writer.create_database()
        self.state = State.RUNNING
        self._gauges()
        self._linger_task = asyncio.create_task(self._linger_loop(), name="influx-linger")
        self._tasks = [asyncio.create_task(self._send_loop(), name=f"influx-send-{i}")
                       for i in range(self.settings.max_inflight)]

    async def put(self, readings: Iterable[Reading]) -> None:
        """Accept readings: returning means they are in the memory batch or on disk.

        Each is encoded into its line here, a pipeline batch at a time while its fields are
        fresh in the CPU's caches, so the memory batch holds lines and a flush only joins
        them: encoding a whole batch (5,000 readings) at the flush held every poll up for
        about a tenth of a second."""
        if self.state is not State.RUNNING:
            raise SinkError(f"sink is {self.state.value}, not accepting readings")
        if not isinstance(readings, list | tuple):
            readings = list(readings)
        if not readings:
            return
        lines = reading_lines(readings, self.settings.precision)
        self.metrics.inc("readings_accepted", len(readings))
        if len(lines) < len(readings):
            self.metrics.inc("readings_empty", len(readings) - len(lines))
        if not lines:
            return
        before = len(self._pending)
        self._pending += lines
        self.metrics.gauges["readings_in_memory"] = len(self._pending)
        if before == 0:
            self._pending_since = time.monotonic()
            self._wake_linger.set()
        if len(self._pending) >= self.settings.batch_size:
            self._flush(whole_batches_only=True)

    async def close(self) -> None:
        """Spool what is in memory, deliver for at most close_timeout_s, then stop."""
        if self.state in (State.CLOSING, State.CLOSED):
            return
        if self.state is State.NEW:
            await self._writer.aclose()
            self.state = State.CLOSED
            return
        self.state = State.CLOSING
        deadline = time.monotonic() + self.settings.close_timeout_s
        self._flush()
        if self._pending:  # the spool cannot be written: try InfluxDB directly, then count
            await self._write_pending_directly(deadline)
        self._data.set()
        if self._linger_task is not None:
            self._linger_task.cancel()
        senders = asyncio.gather(*self._tasks, return_exceptions=True)
        try:
            await asyncio.wait_for(asyncio.shield(senders),
                                   max(0.0, deadline - time.monotonic()))
        except TimeoutError:
            log.warning("InfluxDB sink closing with %d bytes undelivered; they stay in %s",
                        self._spool.backlog_bytes, self.settings.spool_dir)
        for t in (*self._tasks, self._linger_task):
            if t is not None:
                t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        with contextlib.suppress(asyncio.CancelledError):
            if self._linger_task is not None:
                await self._linger_task
        try:
            self._spool.close()
        except Exception as e:  # still close the client and end CLOSED
            log.error("closing the spool %s failed: %s", self.settings.spool_dir, e)
        self._gauges()
        await self._writer.aclose()
        self.state = State.CLOSED

    async def _write_pending_directly(self, deadline: float) -> None:
        """close() with readings the spool refused: POST them now, or count them as dropped."""
        size = self.settings.batch_size
        while self._pending:
            batch = self._pending[:size]
            body, count = lines_body(batch), len(batch)
            left = deadline - time.monotonic()
            try:
                if left <= 0:
                    raise TimeoutError("close_timeout_s is over")
                bad = await asyncio.wait_for(
                    self._writer.write(body, self.settings.precision), left)
            except Exception as e:  # whatever it is, these readings are lost
                lost = len(self._pending)
                self._pending.clear()
                self.metrics.inc("readings_dropped", lost)
                log.error("closing: the spool cannot be written and InfluxDB did not take "
                          "them (%s): dropped %d readings", e, lost)
                return
            if bad:
                try:
                    n = quarantine(self.settings.quarantine_path, bad, self.settings.precision,
                                   fsync=self.settings.fsync != "never")
                    self.metrics.inc("readings_quarantined", n)
                except OSError as e:
                    self.metrics.inc("readings_dropped", len(bad))
                    log.error("closing: cannot quarantine %d refused lines (%s): dropped them",
                              len(bad), e)
            self.metrics.inc("readings_written", count - len(bad))
            del self._pending[:count]
        log.warning("closing: the spool could not be written; the readings held in memory "
                    "were written to InfluxDB directly")

    @property
    def caught_up(self) -> bool:
        """Nothing in memory and everything spooled has been delivered."""
        return not self._pending and self._spool.caught_up

    def flush(self) -> None:
        """Append what is in memory to the spool now, without waiting for linger_s: a source
        that acknowledges upstream (MQTT) calls it first, so what it acknowledged is on disk."""
        if self.state is State.RUNNING and self._pending:
            self._flush()

    # ---- memory batch -> spool -------------------------------------------------------------
    def _flush(self, whole_batches_only: bool = False) -> None:
        size = self.settings.batch_size
        while self._pending and (len(self._pending) >= size or not whole_batches_only):
            batch = self._pending[:size]
            count = len(batch)
            try:
                pos = self._spool.append(lines_body(batch), count, self.settings.precision)
            except SpoolWrittenError as e:  # on disk: it counts as appended, not again
                self.metrics.inc("spool_errors")
                log.error("%s", e)
                pos = e.pos
            except (OSError, SpoolError) as e:
                self._spool_failed(e)
                return
            self._backlog_points += count
            spooled = self._waits.appended(pos, count, down=self._down_since is not None)
            if spooled:
                self.metrics.inc("readings_spooled", spooled)
            self._data.set()
            del self._pending[:count]
        self._pending_since = time.monotonic()
        self._gauges()

    def _spool_failed(self, e: Exception) -> None:
        self.metrics.inc("spool_errors")
        log.error("cannot append to the spool %s: %s; keeping readings in memory",
                  self.settings.spool_dir, e)
        size = self.settings.batch_size
        if len(self._pending) > MAX_PENDING_BATCHES * size:
            lost = len(self._pending) - MAX_PENDING_BATCHES * size
            del self._pending[:lost]
            self.metrics.inc("readings_dropped", lost)
            log.error("dropped the %d oldest readings held in memory", lost)

    async def _linger_loop(self) -> None:
        linger = self.settings.linger_s
        tick = min(linger, self.settings.fsync_interval_s)
        backoff = self._new_backoff()
        while True:
            timeout = tick
            if self._pending:
                timeout = max(0.0, min(tick, self._pending_since + linger - time.monotonic()))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake_linger.wait(), timeout)
            self._wake_linger.clear()
            try:
                if self._pending and time.monotonic() - self._pending_since >= linger:
                    self._flush()
                self._spool.maybe_sync()
            except Exception as e:  # an fsync error must not end the task
                self._internal_error("linger", e)
                await asyncio.sleep(backoff.next())
                continue
            self._internal_ok("linger")
            backoff = self._new_backoff()

    # ---- spool -> InfluxDB -----------------------------------------------------------------
    async def _send_loop(self) -> None:
        """Deliver records in order. No exception but cancellation ends this task: an error
        (quarantine file, cursor, spool read) is logged, reported, backed off and retried with
        the record kept outstanding."""
        task = asyncio.current_task()
        name = task.get_name() if task is not None else "sender"
        backoff = self._new_backoff()
        rec: Record | None = None
        delivered = False
        while True:
            try:
                if rec is None:
                    rec = self._spool.next_record()
                    if rec is None:
                        if self.state is not State.RUNNING:
                            return
                        self._data.clear()
                        await self._data.wait()
                        continue
                if not delivered:
                    await self._deliver(rec)
                    delivered = True
                self._spool.ack(rec)
                self._waits.forget_before(self._spool.committed)
                rec, delivered = None, False
                self._gauges()
            except Exception as e:  # CancelledError is not an Exception
                self._internal_error(name, e)
                await asyncio.sleep(backoff.next())
                continue
            self._internal_ok(name)
            backoff = self._new_backoff()

    def _new_backoff(self) -> Backoff:
        return Backoff(self.settings.retry_initial_s, self.settings.retry_max_s)

    def _internal_error(self, where: str, e: Exception) -> None:
        self.metrics.inc("sink_internal_errors")
        self._broken[where] = f"{type(e).__name__}: {e}"
        log.error("InfluxDB sink %s failed, retrying with backoff: %s", where, e,
                  exc_info=not isinstance(e, OSError))
        self.metrics.set_problem("sink", "; ".join(f"{k}: {v}" for k, v in
                                                   sorted(self._broken.items())))

    def _internal_ok(self, where: str) -> None:
        if self._broken.pop(where, None) is None:
            return
        log.warning("InfluxDB sink %s works again", where)
        if self._broken:
            self.metrics.set_problem("sink", "; ".join(f"{k}: {v}" for k, v in
                                                       sorted(self._broken.items())))
        else:
            self.metrics.set_problem("sink", None)

    async def _deliver(self, rec: Record) -> None:
        backoff = Backoff(self.settings.retry_initial_s, self.settings.retry_max_s)
        created = False  # one immediate retry after CREATE DATABASE, then the backoff path
        while True:
            t0 = time.monotonic()
            try:
                bad = await self._writer.write(rec.body, rec.precision)
            except TargetMissing as e:
                if (not created and self.settings.create_database
                        and await self._writer.create_database()):
                    created = True
                    log.warning("%s: created the database, retrying", e)
                    continue
                self._failed(e, loud=True)
                delay = backoff.next()
            except AuthError as e:
                self.metrics.inc("sink_auth_failures")
                self._failed(e, loud=True)
                delay = backoff.next()
            except Refused as e:
                self._failed(e, loud=True)
                delay = backoff.next()
            except Unavailable as e:
                self._failed(e, loud=False)
                delay = max(backoff.next(), e.retry_after_s or 0.0)
            else:
                self.metrics.write_latency.observe(time.monotonic() - t0)
                if bad:
                    n = quarantine(self.settings.quarantine_path, bad, rec.precision,
                                   fsync=self.settings.fsync != "never")
                    self.metrics.inc("readings_quarantined", n)
                    log.error("quarantined %d lines InfluxDB refused (first reason: %s) in %s",
                              n, bad[0].reason, self.settings.quarantine_path)
                written = rec.count - len(bad)
                self.metrics.inc("readings_written", written)
                self._backlog_points -= rec.count
                if self._waits.delivered(rec.pos):
                    self.metrics.inc("readings_replayed", written)
                self._recovered()
                return
            await asyncio.sleep(delay)

    def _failed(self, e: InfluxError, loud: bool) -> None:
        self.metrics.inc("sink_write_failures")
        self.metrics.set_gauge("influx_up", 0)
        self.metrics.set_problem("influx", str(e))
        now = time.monotonic()
        if self._down_since is None:
            self._down_since = now
            self._down_logged = now
            self._every_undelivered_waits()
            log.log(logging.ERROR if loud else logging.WARNING,
                    "InfluxDB write failed, spooling to %s and retrying: %s",
                    self.settings.spool_dir, e)
        elif loud or now - self._down_logged >= DOWN_LOG_EVERY_S:
            self._down_logged = now
            log.log(logging.ERROR if loud else logging.WARNING,
                    "InfluxDB still failing after %.0f s (%d bytes spooled): %s",
                    now - self._down_since, self._spool.backlog_bytes, e)

    def _recovered(self) -> None:
        if self._down_since is None:
            return
        log.warning("InfluxDB answers again after %.0f s; replaying %d spooled bytes",
                    time.monotonic() - self._down_since, self._spool.backlog_bytes)
        self._down_since = None
        self.metrics.set_gauge("influx_up", 1)
        self.metrics.set_problem("influx", None)

    def _every_undelivered_waits(self) -> None:
        """A failure began: whatever is not yet delivered waits for InfluxDB from now on.
        What is still in memory goes to the spool now, so its wait counts however soon
        InfluxDB is back (before the linger would have flushed it)."""
        self.metrics.inc("readings_spooled", self._waits.failure_began())
        # (closing: close() owns what is still in memory, and may be POSTing it directly)
        if self._pending and self.state is State.RUNNING:
            self._flush()  # _down_since is set: counted as they are appended

    def _on_drop(self, points: int, nbytes: int) -> None:
        self.metrics.inc("readings_dropped", points)
        self._backlog_points -= points
        self.metrics.set_problem(
            "spool", f"spool over its cap: dropped {points} undelivered points (oldest first)"
        )
        self._waits.forget_before(self._spool.committed)

    def _gauges(self) -> None:
        self.metrics.set_gauge("backlog_points", self._backlog_points)
        self.metrics.set_gauge("readings_in_memory", len(self._pending))
        self.metrics.set_gauge("spool_bytes", self._spool.total_bytes)
        backlog = self._spool.backlog_bytes
        self.metrics.set_gauge("spool_backlog_bytes", backlog)
        if not backlog and "spool" in self.metrics.problems:
            self.metrics.set_problem("spool", None)  # the dropping episode is over
