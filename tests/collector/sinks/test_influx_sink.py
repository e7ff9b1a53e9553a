"""The durable sink against a real InfluxDB: an outage (a), damaged spool (c), 400s (d)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from collector.metrics import Metrics
from collector.reading import Reading
from collector.sinks.influx import InfluxSink
from collector.sinks.spool import Spool
from config.influx import InfluxSettings
from influx.client import InfluxWriter
from influx.lineprotocol import encode
from localsite.servers import InfluxServer

T0_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z
DEVICES = [f"inv-{i}" for i in range(4)]


def settings(server: InfluxServer, db: str, tmp_path: Path, **kw: Any) -> InfluxSettings:
    base: dict[str, Any] = dict(
        url=server.url, database=db, spool_dir=tmp_path / "spool", linger_s=0.1,
        batch_size=200, retry_initial_s=0.05, retry_max_s=0.3, timeout_s=2,
        spool_max_bytes=16 * 1024 * 1024, spool_segment_bytes=64 * 1024,
    )
    return InfluxSettings(**(base | kw))


def seed_field_type_conflict(server: InfluxServer, db: str) -> None:
    """Store p_ac_w as an integer in "meter": float values for it are then refused (400)."""
    with server.client(db) as client:
        client.write(f"meter,plant=p1,device=m0 p_ac_w=1i {T0_MS - 1}\n".encode(), "ms")


def readings(n: int, start: int = 0, kind: str = "inverter") -> list[Reading]:
    return [Reading(kind, "p1", d, (T0_MS + i) * 1_000_000, {"p_ac_w": float(i)})
            for i in range(start, start + n) for d in DEVICES]


async def test_a_outage_and_restart_lose_nothing_and_duplicate_nothing(
    own_influxdb: InfluxServer, tmp_path: Path, wait_until: Callable, read_points: Callable
) -> None:
    server, db = own_influxdb, "outage"
    server.create_database(db)
    metrics = Metrics()
    accepted: set[tuple[str, int]] = set()
    stop = asyncio.Event()

    async with InfluxSink(settings(server, db, tmp_path), metrics) as sink:

        async def poll() -> None:
            i = 0
            while not stop.is_set():
                batch = readings(1, start=i)
                await sink.put(batch)  # returning means accepted
                accepted.update((r.device, r.ts_ns) for r in batch)
                i += 1
                await asyncio.sleep(0.005)

        poller = asyncio.create_task(poll())
        await wait_until(lambda: metrics.counters["readings_written"] >= 200, 10, "first writes")
        await asyncio.to_thread(server.stop)
        written_before = metrics.counters["readings_written"]
        await wait_until(lambda: metrics.counters["readings_spooled"] >= 1000, 15, "spooling")
        await asyncio.to_thread(server.start)  # same port, same data folder
        await wait_until(lambda: metrics.counters["readings_replayed"] > 0, 15, "replay")
        n = len(accepted)
        await wait_until(lambda: len(accepted) >= n + 200, 10, "polling after the restart")
        stop.set()
        await poller
        await wait_until(lambda: sink.caught_up, 20, "the spool to drain")
        assert metrics.counters["readings_written"] > written_before

    stored = read_points(server, db)
    assert len(stored) == len(set(stored))  # none duplicated
    assert set(stored) == accepted  # none missing, none extra
    assert metrics.counters["readings_accepted"] == len(accepted)
    assert metrics.counters["readings_dropped"] == 0
    assert metrics.gauges["influx_up"] == 1


async def test_c_damaged_spool_is_replayed_around_the_damage(
    influxdb: InfluxServer, influx_db: str, tmp_path: Path, wait_until: Callable,
    read_points: Callable
) -> None:
    cfg = settings(influxdb, influx_db, tmp_path)
    spool = Spool(cfg.spool_dir, max_bytes=cfg.spool_max_bytes,
                  segment_bytes=cfg.spool_segment_bytes).open()
    batches = [readings(10, start=10 * k) for k in range(4)]
    for b in batches:
        spool.append(encode(b, "ms"), len(b), "ms")
    spool.close()
    seg = sorted(cfg.spool_dir.glob("*.seg"))[0]
    seg.write_bytes(seg.read_bytes()[:-5])  # the last batch was torn by a power cut

    metrics = Metrics()
    async with InfluxSink(cfg, metrics) as sink:
        await wait_until(lambda: sink.caught_up, 15, "replay of the damaged spool")
    expected = {(r.device, r.ts_ns) for b in batches[:3] for r in b}
    assert set(read_points(influxdb, influx_db)) == expected
    assert metrics.counters["spool_corrupt_bytes"] > 0
    assert metrics.counters["readings_replayed"] == len(expected)


async def test_d_lines_refused_with_400_are_quarantined_and_the_rest_written(
    influxdb: InfluxServer, influx_db: str, tmp_path: Path, wait_until: Callable,
    read_points: Callable
) -> None:
    seed_field_type_conflict(influxdb, influx_db)
    cfg = settings(influxdb, influx_db, tmp_path, batch_size=50)
    metrics = Metrics()
    good = readings(40)
    bad = [readings(1, start=i, kind="meter")[0] for i in range(0, 40, 8)]
    mixed = good[:60] + bad + good[60:]
    async with InfluxSink(cfg, metrics) as sink:
        await sink.put(mixed)
        await wait_until(lambda: sink.caught_up, 15, "delivery")

    assert set(read_points(influxdb, influx_db)) == {(r.device, r.ts_ns) for r in good}
    assert metrics.counters["readings_quarantined"] == len(bad)
    assert metrics.counters["readings_written"] == len(good)
    entries = [json.loads(x) for x in cfg.quarantine_path.read_text().splitlines()]
    assert len(entries) == len(bad)
    assert all("field type conflict" in e["reason"] for e in entries)
    assert {e["line"].split()[-1] for e in entries} == {str(r.ts_ns // 10**6) for r in bad}


async def test_unparsable_line_is_isolated_with_the_servers_reason(
    influxdb: InfluxServer, influx_db: str, tmp_path: Path
) -> None:
    writer = InfluxWriter(settings(influxdb, influx_db, tmp_path))
    body = b"x,device=a f=1 1000\nx,device=b f= 1000\nx,device=c f=3 1000\n"
    try:
        bad = await writer.write(body, "ms")
    finally:
        await writer.aclose()
    assert [b.line for b in bad] == [b"x,device=b f= 1000"]
    assert "unable to parse" in bad[0].reason
    assert len(influxdb.query("SELECT f FROM x", influx_db)[0]["values"]) == 2


async def test_gzip_and_a_missing_database_is_created(
    influxdb: InfluxServer, tmp_path: Path, wait_until: Callable, read_points: Callable
) -> None:
    cfg = settings(influxdb, "created_later", tmp_path, gzip=True)
    async with InfluxSink(cfg) as sink:
        influxdb.query('DROP DATABASE "created_later"', method="POST")  # 404 on write
        await sink.put(readings(5))
        await wait_until(lambda: sink.caught_up, 15, "delivery")
    assert len(read_points(influxdb, "created_later")) == 20


async def test_wrong_endpoint_is_loud_and_keeps_the_data(
    influxdb: InfluxServer, influx_db: str, tmp_path: Path, wait_until: Callable,
    read_points: Callable
) -> None:
    # InfluxDB 1.6 has no /api/v2/write: 404 every time. The data must stay in the spool.
    cfg = settings(influxdb, influx_db, tmp_path, api="v2", org="o", close_timeout_s=0.2)
    metrics = Metrics()
    async with InfluxSink(cfg, metrics) as sink:
        await sink.put(readings(5))
        await wait_until(lambda: metrics.counters["sink_write_failures"] >= 2, 10, "failures")
        assert "influx" in metrics.problems
    assert metrics.counters["readings_written"] == 0
    async with InfluxSink(settings(influxdb, influx_db, tmp_path)) as sink:  # fixed config
        await wait_until(lambda: sink.caught_up, 15, "replay")
    assert len(read_points(influxdb, influx_db)) == 20
