"""InfluxDB sink benchmark: the sink vs. bulk POSTs of the same line protocol, same run.

Against one local InfluxDB 1.x started here (localsite.servers.InfluxServer), each in a fresh
database, with the same points, batch size and number of concurrent POSTs:

  bulk     pre-encoded line protocol POSTed with httpx: what InfluxDB itself takes (baseline)
  sink     Readings put() into InfluxSink (encode + spool append + POST + ack), timed from the
           first put() until every point is confirmed
  replay   a spool filled while InfluxDB was unreachable, delivered by a fresh sink

Two CPU placements, both in the same run:

  shared   influxd and this process may use every CPU. On a 2-core machine influxd alone keeps
           both cores busy during the bulk run, so the sink (which must also encode) competes
           with it for CPU: that ratio measures CPU sharing as much as the sink.
  pinned   influxd (every thread) on one CPU, this process on another, for bulk and sink alike:
           "can the sink feed InfluxDB as fast as InfluxDB takes line protocol?" without the
           contention. Skipped, with the reason, when fewer than 2 CPUs are available.

Points carry 12 fields (as the shared README's ingest figures). Each (placement, mode) runs
ROUNDS times, interleaved, bulk and sink alternating which goes first, and the best run counts
(the machine is shared). Every run checks the count stored in InfluxDB. ``encode_points_per_s``
is the line protocol encoder alone on one core. Result: bench/results/sink.json, with the
pinned ratio under ``sink_vs_bulk`` (the shared one under ``sink_vs_bulk_shared_cores``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from collector.reading import Reading
from collector.sinks.influx import InfluxSink
from config.influx import InfluxSettings
from influx.lineprotocol import encode
from localsite.servers import InfluxServer, free_port

RESULTS = Path(__file__).parent / "results" / "sink.json"
POINTS = int(os.environ.get("PVRELIEF_BENCH_SINK_POINTS", "300000"))
BATCH = 5000
INFLIGHT = 2
ROUNDS = int(os.environ.get("PVRELIEF_BENCH_SINK_ROUNDS", "3"))
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


def _threads(pid: int) -> list[int]:
    try:
        return [int(t) for t in os.listdir(f"/proc/{pid}/task")]
    except FileNotFoundError:
        return [pid]


def pin(pid: int, cpus: set[int]) -> None:
    """Set the CPU affinity of every thread of a process (sched_setaffinity is per thread)."""
    for _ in range(3):  # threads started meanwhile inherit from a thread already pinned
        for tid in _threads(pid):
            with contextlib.suppress(ProcessLookupError):
                os.sched_setaffinity(tid, cpus)


def pinned_ok(pid: int, cpus: set[int]) -> bool:
    for tid in _threads(pid):
        try:
            if os.sched_getaffinity(tid) != cpus:
                return False
        except ProcessLookupError:  # the thread has ended
            pass
    return True


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a whole process (every thread), from /proc."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def encode_rate(readings: list[Reading]) -> float:
    """Points per second of encode() alone, best of ROUNDS, in BATCH-sized batches."""
    best = math.inf
    for _ in range(ROUNDS):
        t0 = time.perf_counter()
        for i in range(0, len(readings), BATCH):
            encode(readings[i:i + BATCH], "ms")
        best = min(best, time.perf_counter() - t0)
    return len(readings) / best


async def bench(server: InfluxServer, work: Path) -> dict[str, Any]:
    readings = make_readings(POINTS)
    all_cpus = os.sched_getaffinity(0)
    placements: dict[str, tuple[set[int], set[int]]] = {"shared": (all_cpus, all_cpus)}
    pinned_skipped = None
    if (os.cpu_count() or 1) < 2 or len(all_cpus) < 2:
        pinned_skipped = (f"only {len(all_cpus)} CPU available (os.cpu_count()={os.cpu_count()}):"
                          " influxd and the client cannot have a CPU each")
    else:
        server_cpu, client_cpu = sorted(all_cpus)[:2]
        placements["pinned"] = ({server_cpu}, {client_cpu})
    server_pid = server.pid
    assert server_pid is not None
    runs: dict[str, dict[str, list[float]]] = {
        "shared": {"bulk": [], "sink": [], "replay": []}, "pinned": {"bulk": [], "sink": []}}
    busy: dict[str, dict[str, list[tuple[float, float]]]] = {
        name: {mode: [] for mode in modes} for name, modes in runs.items()}

    def place(name: str) -> None:
        server_cpus, client_cpus = placements[name]
        pin(server_pid, server_cpus)
        pin(os.getpid(), client_cpus)
        if not (pinned_ok(server_pid, server_cpus) and pinned_ok(os.getpid(), client_cpus)):
            raise RuntimeError(f"could not set the CPU affinities for {name}")

    try:
        for k in range(ROUNDS):
            for name in placements:
                place(name)
                modes = list(runs[name])
                if k % 2:  # alternate which of bulk and sink runs first
                    modes[0], modes[1] = modes[1], modes[0]
                for mode in modes:
                    db = f"{name}_{mode}{k}"
                    server.create_database(db)
                    spool = work / f"spool-{db}"
                    cpu0 = (cpu_seconds(os.getpid()), cpu_seconds(server_pid))
                    if mode == "bulk":
                        seconds = await run_bulk(server, db, readings)
                    elif mode == "sink":
                        seconds = await run_sink(server, db, readings, spool)
                    else:
                        seconds = await run_replay(server, db, readings, spool)
                    cpu = (cpu_seconds(os.getpid()) - cpu0[0], cpu_seconds(server_pid) - cpu0[1])
                    n = stored(server, db)
                    if n != POINTS:
                        raise RuntimeError(f"{name} {mode}: InfluxDB holds {n} points, "
                                           f"expected {POINTS}")
                    rate = POINTS / seconds
                    runs[name][mode].append(rate)
                    busy[name][mode].append((cpu[0] / seconds, cpu[1] / seconds))
                    print(f"  {name:6s} {mode:6s} round {k}: {rate:9.0f} points/s "
                          f"({seconds:.2f} s; CPUs busy: client {cpu[0] / seconds:.2f}, "
                          f"influxd {cpu[1] / seconds:.2f})", flush=True)
                    server.query(f'DROP DATABASE "{db}"', method="POST")
                    shutil.rmtree(spool, ignore_errors=True)
        place("shared")
        encode_pps = encode_rate(readings)
        if "pinned" in placements:
            pin(os.getpid(), placements["pinned"][1])
            encode_pps_one_cpu = encode_rate(readings)
        else:
            encode_pps_one_cpu = encode_pps
    finally:
        with contextlib.suppress(OSError):
            pin(server_pid, all_cpus)
        pin(os.getpid(), all_cpus)
    print(f"  encode alone: {encode_pps_one_cpu:9.0f} points/s (one CPU)", flush=True)

    best = {name: {mode: max(rates) for mode, rates in modes.items() if rates}
            for name, modes in runs.items()}

    def cpus_busy(name: str) -> dict[str, dict[str, float]]:
        """CPU-seconds per second of the best run of each mode (1.0 = one core saturated)."""
        out = {}
        for mode, rates in runs[name].items():
            if rates and mode != "replay":  # replay's client time includes filling the spool
                client, influxd = busy[name][mode][rates.index(max(rates))]
                out[mode] = {"client": round(client, 2), "influxd": round(influxd, 2)}
        return out

    shared = best["shared"]
    shared_ratio = round(shared["sink"] / shared["bulk"], 3)
    result: dict[str, Any] = {
        "points": POINTS,
        "fields_per_point": len(FIELDS),
        "batch_size": BATCH,
        "concurrent_posts": INFLIGHT,
        "rounds": ROUNDS,
    }
    if pinned_skipped is None:
        pinned = best["pinned"]
        server_cpus, client_cpus = placements["pinned"]
        result |= {
            "sink_vs_bulk": round(pinned["sink"] / pinned["bulk"], 3),
            "sink_vs_bulk_shared_cores": shared_ratio,
            "pinned": {
                "influxd_cpus": sorted(server_cpus),
                "client_cpus": sorted(client_cpus),
                "bulk_points_per_s": round(pinned["bulk"]),
                "sink_points_per_s": round(pinned["sink"]),
                "cpus_busy_in_best_run": cpus_busy("pinned"),
            },
        }
    else:
        result |= {
            "sink_vs_bulk": None,
            "sink_vs_bulk_shared_cores": shared_ratio,
            "pinned": {"skipped": pinned_skipped},
        }
    result |= {
        "shared_cores": {
            "bulk_points_per_s": round(shared["bulk"]),
            "sink_points_per_s": round(shared["sink"]),
            "replay_points_per_s": round(shared["replay"]),
            "replay_vs_bulk": round(shared["replay"] / shared["bulk"], 3),
            "cpus_busy_in_best_run": cpus_busy("shared"),
        },
        "encode_points_per_s": round(encode_pps_one_cpu),
        "runs_points_per_s": {f"{name}_{mode}": [round(r) for r in rates]
                              for name, modes in runs.items() for mode, rates in modes.items()
                              if rates},
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "loadavg_after": [round(x, 2) for x in os.getloadavg()]},
        "notes": (
            "Best of the rounds per (placement, mode), same points, batch size and concurrent "
            "POSTs on both sides; bulk POSTs pre-encoded bodies, sink includes encoding, spool "
            "append (fsync interval) and acks. sink_vs_bulk is the pinned ratio: influxd (all "
            "threads) restricted to one CPU, this benchmark process to another, for bulk and "
            "sink alike, so it answers whether the sink feeds InfluxDB as fast as InfluxDB takes "
            "line protocol. sink_vs_bulk_shared_cores lets both use every CPU: on 2 cores "
            "influxd alone saturates both during the bulk run, so there the sink's encoding "
            "competes with influxd for CPU and the ratio measures CPU sharing, not the sink. "
            "encode_points_per_s is influx.lineprotocol.encode alone on one CPU. "
            "cpus_busy_in_best_run: CPU-seconds per wall second of each process (client = "
            "this process, 1.0 = one core saturated). The machine "
            "is shared with other work, so absolute rates vary between runs."
            + ("" if pinned_skipped is None else f" Pinned mode skipped: {pinned_skipped}.")
        ),
    }
    return result


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
    print(f"  sink_vs_bulk = {result['sink_vs_bulk']} (pinned), "
          f"{result['sink_vs_bulk_shared_cores']} (shared cores)  -> {RESULTS}", flush=True)


if __name__ == "__main__":
    main()
