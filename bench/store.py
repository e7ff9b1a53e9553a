"""The store under a fleet's load: influxd's CPU for 20,000 devices every 10 s, side by side.

At 20,000 devices the collector benchmark's machine is full, and influxd is the largest part
of it: 2,000 points a second of 53 fields is a million field series. This feeds one local
InfluxDB 1.x (``localsite.servers.InfluxServer``) exactly that load, the lines the collector
writes for the fleet of ``bench/_fleet.py`` (49 SUN2000 and one DTSU666 per gateway, decoded
from the simulator's registers and encoded by ``influx.lineprotocol``), one POST a second as
the sink's one-second linger sends them, and reads influxd's CPU time from /proc over a window
long enough to hold its cache snapshots, and its peak memory. Two settings, each on a fresh
influxd, in one run:

  default  influxd's own ``cache-snapshot-memory-size`` (25 MB)
  tuned    the size ``localsite`` and README's Operations use (``SNAPSHOT_SIZE``)

Every run checks that InfluxDB holds every point it was sent. Result: bench/results/store.json.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from bench._cpu_share import cpu_seconds
from bench._fleet import GATEWAYS_PER_PLANT, INVERTER, METER, UNITS_PER_GATEWAY, simulated_reading
from influx.lineprotocol import encode
from localsite.servers import SNAPSHOT_SIZE, InfluxServer

RESULTS = Path(__file__).parent / "results" / "store.json"
DEVICES = 20_000
INTERVAL_S = 10.0
WARMUP_S = 15.0  # every device written once (its series created), then some
WINDOW_S = float(os.environ.get("PVRELIEF_BENCH_STORE_WINDOW_S", "180"))
VARIANTS = (("default", None), ("tuned", SNAPSHOT_SIZE))
DB = "pvrelief"
STATES = 16  # distinct readings per profile, as a fleet's values vary from poll to poll


def _field_sets() -> dict[str, list[str]]:
    """Each profile's field sets as the collector writes them: the simulator's registers at
    STATES operating points, decoded and encoded, the line cut to its fields."""
    out: dict[str, list[str]] = {}
    for name in (INVERTER, METER):
        sets = []
        for k in range(STATES):
            watts = 2_000.0 + 3_200.0 * k
            if name == METER:
                watts *= UNITS_PER_GATEWAY - 1  # the gateway's inverters behind it
            reading = simulated_reading(name, p_ac_w=watts, p_dc_w=watts * 1.04,
                                        dt_s=60.0 + k, t_amb=15.0 + k / 4, t_cell=40.0 + k / 2)
            line = encode([reading]).decode()
            sets.append(line.split(" ")[1])  # fleet ids and these texts hold no space
        out[name] = sets
    return out


def _prefixes() -> list[tuple[str, str]]:
    """(measurement and tags, profile) for every device of the fleet, as the collector's."""
    out = []
    for i in range(DEVICES):
        g, unit = divmod(i, UNITS_PER_GATEWAY)
        plant = f"plant-{g // GATEWAYS_PER_PLANT:03d}"
        if unit == UNITS_PER_GATEWAY - 1:
            out.append((f"meter,plant={plant},device=g{g:03d}-meter", METER))
        else:
            out.append((f"inverter,plant={plant},device=g{g:03d}-inv-{unit + 1:02d}", INVERTER))
    return out


def _second(k: int, t_ns: int, prefixes: list[tuple[str, str]],
            sets: dict[str, list[str]]) -> bytes:
    """Second k of the load: the devices whose slot falls in it, at this second's time."""
    per_s = int(DEVICES / INTERVAL_S)
    start = (k * per_s) % DEVICES
    lines = []
    for j in range(per_s):
        i = (start + j) % DEVICES
        head, profile = prefixes[i]
        fields = sets[profile][(i + k // int(INTERVAL_S)) % STATES]
        lines.append(f"{head} {fields} {t_ns + j * 1000}")
    lines.append("")
    return "\n".join(lines).encode()


def _peak_rss_mb(pid: int) -> float:
    """The process's peak resident memory so far (VmHWM), in MB."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    raise RuntimeError(f"no VmHWM in /proc/{pid}/status")


def run(name: str, snapshot: str | None, tmp: Path, prefixes: list[tuple[str, str]],
        sets: dict[str, list[str]]) -> dict[str, Any]:
    with InfluxServer(tmp / name, snapshot_size=snapshot) as influx, httpx.Client(
            timeout=60) as http:
        assert influx.pid is not None
        http.post(f"{influx.url}/query", params={"q": f"CREATE DATABASE {DB}"}).raise_for_status()
        post_s: list[float] = []
        sent = late = 0
        t0 = time.monotonic()
        cpu0 = wall0 = log0 = None
        k = 0
        while k < (WARMUP_S + WINDOW_S):
            if k == WARMUP_S:
                cpu0, wall0 = cpu_seconds(influx.pid), time.monotonic()
                log0 = influx.log_path.stat().st_size
            body = _second(k, time.time_ns(), prefixes, sets)
            t = time.perf_counter()
            http.post(f"{influx.url}/write", params={"db": DB, "precision": "ns"},
                      content=body).raise_for_status()
            if k >= WARMUP_S:
                post_s.append(time.perf_counter() - t)
            sent += body.count(b"\n")
            k += 1
            wait = t0 + k - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            else:
                late += 1
        assert cpu0 is not None and wall0 is not None and log0 is not None
        cores = (cpu_seconds(influx.pid) - cpu0) / (time.monotonic() - wall0)
        peak_mb = _peak_rss_mb(influx.pid)
        with influx.log_path.open("rb") as f:
            f.seek(log0)
            log = f.read().decode(errors="replace")
        stored = sum(int(s["values"][0][1]) for q in ("SELECT count(p_ac_w) FROM inverter",
                                                      "SELECT count(p_w) FROM meter")
                     for s in influx.query(q, DB))
    assert stored == sent, f"{name}: InfluxDB holds {stored} of the {sent} points sent"
    post_s.sort()
    return {
        "cache_snapshot_memory_size": snapshot or "25m (influxd's default)",
        "influxd_cores": round(cores, 2),
        "influxd_peak_rss_mb": peak_mb,  # the larger cache's price
        "points_sent": sent,
        "points_stored": stored,
        "seconds_behind": late,  # POSTs that ended after the next second had begun
        "post_p50_ms": round(1e3 * post_s[len(post_s) // 2], 1),
        "post_p99_ms": round(1e3 * post_s[int(len(post_s) * 0.99)], 1),
        "snapshots_in_window": log.count("Snapshot for path written"),
        "compactions_in_window": log.count("Finished compacting files"),
    }


def main() -> None:
    t = time.perf_counter()
    sets, prefixes = _field_sets(), _prefixes()
    runs: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="pvrelief-bench-store-") as name:
        for variant, snapshot in VARIANTS:
            runs[variant] = run(variant, snapshot, Path(name), prefixes, sets)
            print(f"  {variant}: {runs[variant]}", flush=True)
    fields = {p: len(s[0].split(",")) for p, s in sets.items()}
    result = {
        "scenario": f"{DEVICES:,} devices every {INTERVAL_S:g} s (the fleet of bench/_fleet.py: "
                    f"{fields[INVERTER]} fields a SUN2000, {fields[METER]} a DTSU666), one POST "
                    f"a second; InfluxDB 1.6 on this machine, alone; window {WINDOW_S:g} s "
                    f"after {WARMUP_S:g} s",
        "points_per_s": DEVICES / INTERVAL_S,
        "field_values_per_s": round((DEVICES / UNITS_PER_GATEWAY) * (
            (UNITS_PER_GATEWAY - 1) * fields[INVERTER] + fields[METER]) / INTERVAL_S),
        "runs": runs,
        "tuned_vs_default_cores": round(runs["tuned"]["influxd_cores"]
                                        / runs["default"]["influxd_cores"], 2),
        "cpus": os.cpu_count(),
        "wall_s": round(time.perf_counter() - t, 1),
    }
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "runs"}, indent=1))


if __name__ == "__main__":
    main()
