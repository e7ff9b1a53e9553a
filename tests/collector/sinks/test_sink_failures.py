"""Failure paths of the durable sink outside InfluxDB itself, against a real InfluxDB.

The file-system failures are real too: a path under a regular file cannot be created
(ENOTDIR/EEXIST), even for root, so no OS call is faked except os.fsync in the spool test.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from collector.metrics import Metrics, MetricsServer
from collector.sinks import spool as spool_mod
from collector.sinks.influx import Backoff, InfluxSink
from collector.sinks.spool import count_points, list_segments, segment_name
from localsite.servers import InfluxServer, free_port
from tests.collector.sinks.test_influx_sink import (
    readings,
    seed_field_type_conflict,
    settings,
)


async def test_sender_survives_an_unwritable_quarantine_file_and_delivers_later(
    influxdb: InfluxServer, influx_db: str, tmp_path: Path, wait_until: Callable,
    read_points: Callable
) -> None:
    seed_field_type_conflict(influxdb, influx_db)
    blocker = tmp_path / "blocker"
    blocker.write_text("a regular file: nothing can be created under it\n")
    qfile = blocker / "quarantine.jsonl"
    cfg = settings(influxdb, influx_db, tmp_path, batch_size=50, quarantine_file=qfile,
                   max_inflight=1)
    metrics = Metrics()
    good = readings(20)
    bad = readings(1, start=3, kind="meter")
    async with InfluxSink(cfg, metrics) as sink, MetricsServer(metrics, port=0) as srv, \
            httpx.AsyncClient() as client:
        await sink.put(good[:40] + bad + good[40:])
        await wait_until(lambda: metrics.counters["sink_internal_errors"] >= 3, 15,
                         "the sender to fail on the quarantine file, more than once")
        health = await client.get(f"http://127.0.0.1:{srv.port}/healthz")
        assert health.status_code == 503 and "FileExistsError" in health.text
        assert not sink.caught_up  # the record is kept outstanding, not skipped
        blocker.unlink()
        blocker.mkdir()
        await wait_until(lambda: sink.caught_up, 15, "delivery after the path was fixed")
        assert "sink" not in metrics.problems
        assert (await client.get(f"http://127.0.0.1:{srv.port}/healthz")).status_code == 200
        await sink.put(readings(5, start=100))  # the sender still works
        await wait_until(lambda: sink.caught_up, 15, "delivery of new readings")
    expected = {(x.device, x.ts_ns) for x in good + readings(5, start=100)}
    assert set(read_points(influxdb, influx_db)) == expected
    assert metrics.counters["readings_quarantined"] == len(bad)
    assert metrics.counters["readings_written"] == len(expected)
    assert len(qfile.read_text().splitlines()) == len(bad)


async def test_write_still_404_after_create_database_backs_off(
    influxdb: InfluxServer, tmp_path: Path, wait_until: Callable,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A real influxd: CREATE DATABASE "a\\"b" succeeds but creates `a"b`, so /write?db=a\\"b
    answers 404 every time although the create "worked". It must not loop without a pause."""
    delays: list[float] = []
    real_next = Backoff.next

    def recording_next(self: Backoff) -> float:
        delays.append(real_next(self))
        return delays[-1]

    monkeypatch.setattr(Backoff, "next", recording_next)
    cfg = settings(influxdb, 'a\\"b', tmp_path, retry_initial_s=0.2, retry_max_s=0.4,
                   close_timeout_s=0.2)
    metrics = Metrics()
    async with InfluxSink(cfg, metrics) as sink:
        await sink.put(readings(2))
        await wait_until(lambda: metrics.counters["sink_write_failures"] >= 4, 10,
                         "four failures")
        failures = metrics.counters["sink_write_failures"]
    # every failure was followed by a backoff of at least half the initial delay (jitter);
    # without it they came in microseconds (65,930 POSTs/s were measured)
    assert len(delays) >= failures - 1 >= 3
    assert all(d >= 0.1 for d in delays), delays
    assert "influx" in metrics.problems
    assert metrics.counters["readings_written"] == 0


def _block(spool_dir: Path) -> Path:
    """Move the spool folder away and put a regular file at its path: nothing can be created
    in it any more (the open segment fd still works). Returns where it went."""
    moved = spool_dir.with_name("spool-moved")
    spool_dir.rename(moved)
    spool_dir.write_text("blocked\n")
    return moved


def _unblock(spool_dir: Path, moved: Path) -> None:
    spool_dir.unlink()
    moved.rename(spool_dir)


async def test_close_with_an_unwritable_spool_writes_memory_directly(
    influxdb: InfluxServer, influx_db: str, tmp_path: Path, wait_until: Callable,
    read_points: Callable
) -> None:
    # A tiny segment size: the next append rolls over, which fails once the folder is gone.
    cfg = settings(influxdb, influx_db, tmp_path, batch_size=20, linger_s=30, close_timeout_s=3)
    cfg = cfg.model_copy(update={"spool_segment_bytes": 1024})  # below the config's minimum
    metrics = Metrics()
    first, later = readings(5), readings(10, start=5)  # one record (fills a segment), two
    async with InfluxSink(cfg, metrics) as sink:
        moved = _block(cfg.spool_dir)
        await sink.put(first)  # appended to the open segment; the rollover after it fails
        assert metrics.counters["spool_errors"] >= 1
        await sink.put(later)  # no segment can be opened: held in memory
        assert sink._spool._wfd == -1  # no stale fd number kept after the failed rollover
        assert len(sink._pending) == len(later)
    # close(): the memory batch went to InfluxDB directly, nothing dropped.
    assert metrics.counters["readings_dropped"] == 0
    assert {(x.device, x.ts_ns) for x in later} <= set(read_points(influxdb, influx_db))
    _unblock(cfg.spool_dir, moved)
    spooled = sum(count_points(cfg.spool_dir / segment_name(s))
                  for s in list_segments(cfg.spool_dir))
    assert spooled == len(first)  # appended once, not again after the failed rollover
    async with InfluxSink(cfg, metrics) as sink:
        await wait_until(lambda: sink.caught_up, 15, "replay of what was spooled")
    assert set(read_points(influxdb, influx_db)) == {(x.device, x.ts_ns) for x in first + later}


async def test_close_with_an_unwritable_spool_and_no_influxdb_counts_the_loss(
    influxdb: InfluxServer, tmp_path: Path
) -> None:
    nobody = f"http://127.0.0.1:{free_port()}"  # nothing listens there: connection refused
    cfg = settings(influxdb, "db", tmp_path, url=nobody, batch_size=20, linger_s=30,
                   create_database=False, close_timeout_s=0.5)
    cfg = cfg.model_copy(update={"spool_segment_bytes": 1024})  # below the config's minimum
    metrics = Metrics()
    async with InfluxSink(cfg, metrics) as sink:
        moved = _block(cfg.spool_dir)
        await sink.put(readings(10))
        await sink.put(readings(10, start=10))
        held = len(sink._pending)
        assert held >= 40  # the rollover fails after the first record: the rest is held
    assert metrics.counters["readings_dropped"] == held
    _unblock(cfg.spool_dir, moved)


def test_spool_close_releases_the_lock_when_fsync_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:

    sp = spool_mod.Spool(tmp_path / "s", max_bytes=1 << 20, segment_bytes=1 << 16,
                         fsync="always").open()
    sp.append(b"m f=1 1\n", 1, "ms")
    sp._dirty = True

    def eio(fd: int) -> None:
        raise OSError(errno.EIO, os.strerror(errno.EIO))

    monkeypatch.setattr(spool_mod.os, "fsync", eio)
    try:
        sp.close()
    except OSError:
        pass
    else:
        raise AssertionError("the fsync error must be raised")
    monkeypatch.undo()
    assert sp._wfd == -1 and sp._lock_fd == -1
    spool_mod.Spool(tmp_path / "s", max_bytes=1 << 20, segment_bytes=1 << 16).open().close()
