"""InfluxDB sink benchmark: the sink vs. bulk POSTs of the same line protocol, same run.

Against one local InfluxDB 1.x started here (pvrelief.services.InfluxServer), each in a fresh
database, with the same batch size and the same number of concurrent POSTs:

  bulk     pre-encoded line protocol POSTed with httpx: what InfluxDB itself takes (baseline)
  sink     Readings put() into InfluxSink (encode + spool append + POST + ack), timed from the
           first put() until every point is confirmed
  replay   a spool filled while InfluxDB was unreachable, delivered by a fresh sink

Points carry 12 fields (as the shared README's ingest figures). Each mode runs ROUNDS times,
interleaved, and the best run counts (the machine is shared). Every run checks the count
stored in InfluxDB. Result: bench/results/sink.json, ratio under ``sink_vs_bulk``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from collector.lineprotocol import encode
from collector.reading import Reading
from collector.sinks.influx import InfluxSink
from config.influx import InfluxSettings
from pvrelief.services import InfluxServer, free_port

RESULTS = Path(__file__).parent / "results" / "sink.json"
POINTS = int(os.environ.get("PVRELIEF_BENCH_SINK_POINTS", "300000"))
BATCH = 5000
INFLIGHT = 2
ROUNDS = 2
DEVICES = 300
FIELDS = ("p_ac_w", "p_dc_w", "u_ac_v", "i_ac_a", "f_hz", "e_day_kwh", "e_total_kwh",
          "t_internal_c", "u_pv1_v", "i_pv1_a", "u_pv2_v", "i_pv2_a")
T0_MS = 1_767_225_600_000


def make_readings(n: int) -> list[Reading]:
    out = []
    for i in range(n):
        dev, step = i % DEVICES, i // DEVICES
        fields = {f: float((i * 7 + k) % 1000) + 0.5 for k, f in enumerate(FIELDS)}
        out.append(Reading("inverter", "p1", f"inv-{dev:03d}", (T0_MS + step * 1000) * 10**6,
                           fields))
    return out


def settings(url: str, db: str, spool: Path, **kw: Any) -> InfluxSettings:
    base: dict[str, Any] = dict(url=url, database=db, spool_dir=spool, batch_size=BATCH,
                                max_inflight=INFLIGHT, linger_s=0.5, timeout_s=60,
                                retry_initial_s=0.05, retry_max_s=0.5)
    return InfluxSettings(**(base | kw))


async def run_bulk(server: InfluxServer, db: str, readings: list[Reading]) -> float:
    bodies = [encode(readings[i:i + BATCH], "ms") for i in range(0, len(readings), BATCH)]
    queue = list(reversed(bodies))
    async with httpx.AsyncClient(timeout=60) as client:

        async def worker() -> None:
            while queue:
                r = await client.post(f"{server.url}/write", content=queue.pop(),
                                      params={"db": db, "precision": "ms"})
                r.raise_for_status()

        t0 = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(INFLIGHT)))
        return time.perf_counter() - t0


async def _until_caught_up(sink: InfluxSink, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while not sink.caught_up:
        if time.monotonic() > deadline:
            raise RuntimeError("the sink did not deliver everything in time")
        await asyncio.sleep(0.01)


async def run_sink(server: InfluxServer, db: str, readings: list[Reading], spool: Path
                   ) -> float:
    async with InfluxSink(settings(server.url, db, spool)) as sink:
        t0 = time.perf_counter()
        for i in range(0, len(readings), 500):  # as a poller would: many small puts
            await sink.put(readings[i:i + 500])
            await asyncio.sleep(0)
        await _until_caught_up(sink)
        return time.perf_counter() - t0


async def run_replay(server: InfluxServer, db: str, readings: list[Reading], spool: Path
                     ) -> float:
    dead = f"http://127.0.0.1:{free_port()}"  # nothing listens: everything stays spooled
    cfg = settings(dead, db, spool, close_timeout_s=0, create_database=False,
                   retry_initial_s=5, retry_max_s=5)
    async with InfluxSink(cfg) as sink:
        for i in range(0, len(readings), 500):
            await sink.put(readings[i:i + 500])
    server.create_database(db)
    async with InfluxSink(settings(server.url, db, spool)) as sink:
        t0 = time.perf_counter()
        await _until_caught_up(sink)
        return time.perf_counter() - t0


def stored(server: InfluxServer, db: str) -> int:
    series = server.query('SELECT count("p_ac_w") FROM "inverter"', db)
    return int(series[0]["values"][0][1]) if series else 0


async def bench(server: InfluxServer, work: Path) -> dict[str, Any]:
    readings = make_readings(POINTS)
    runs: dict[str, list[float]] = {"bulk": [], "sink": [], "replay": []}
    for k in range(ROUNDS):
        for mode in runs:
            db = f"{mode}{k}"
            server.create_database(db)
            spool = work / f"spool-{db}"
            if mode == "bulk":
                seconds = await run_bulk(server, db, readings)
            elif mode == "sink":
                seconds = await run_sink(server, db, readings, spool)
            else:
                seconds = await run_replay(server, db, readings, spool)
            n = stored(server, db)
            if n != POINTS:
                raise RuntimeError(f"{mode}: InfluxDB holds {n} points, expected {POINTS}")
            rate = POINTS / seconds
            runs[mode].append(rate)
            print(f"  {mode:7s} round {k}: {rate:9.0f} points/s ({seconds:.2f} s)", flush=True)
            server.query(f'DROP DATABASE "{db}"', method="POST")
            shutil.rmtree(spool, ignore_errors=True)
    best = {mode: max(rates) for mode, rates in runs.items()}
    return {
        "points": POINTS,
        "fields_per_point": len(FIELDS),
        "batch_size": BATCH,
        "concurrent_posts": INFLIGHT,
        "rounds": ROUNDS,
        "bulk_points_per_s": round(best["bulk"]),
        "sink_points_per_s": round(best["sink"]),
        "replay_points_per_s": round(best["replay"]),
        "sink_vs_bulk": round(best["sink"] / best["bulk"], 3),
        "replay_vs_bulk": round(best["replay"] / best["bulk"], 3),
        "runs_points_per_s": {m: [round(r) for r in rs] for m, rs in runs.items()},
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "notes": "best of the rounds; sink includes encoding, spool append (fsync interval) "
                 "and acks; bulk POSTs pre-encoded bodies",
    }


def main() -> None:
    logging.getLogger("httpx").setLevel(logging.WARNING)
    work = Path(tempfile.mkdtemp(prefix="pvrelief-bench-sink-"))
    try:
        with InfluxServer(work / "influx") as server:
            result = asyncio.run(bench(server, work))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(f"  sink_vs_bulk = {result['sink_vs_bulk']}  -> {RESULTS}", flush=True)


if __name__ == "__main__":
    main()
