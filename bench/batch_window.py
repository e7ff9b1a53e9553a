"""The poll batch's window: the collector's CPU per poll with 50 ms (the old default) and 250 ms.

The collector puts what its pollers read through the stages and sinks a batch at a time
(``collector/batching.py``). Most of a batch's cost at a small fleet's rate is fixed: the
batch's task wakes to caches that the event loop's socket work evicted, and its first reading
fetches the decoder, stages and line protocol writer back. A longer window spreads that over
more readings. This measures the collector (``bench/_clients.py collector``, the fleet of
``bench/collector.py``) with each window, alternated in rounds on the same fleet servers and
the same influxd (the machine is shared: a drifting load favours neither side), at 100 and
1,000 devices polled every second. Result: bench/results/batch_window.json.
"""

from __future__ import annotations

import json
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from bench._fleet import fleet_data, write_yaml
from bench.collector import run_client, start_servers, stop_servers
from collector.batching import MAX_BATCH
from localsite.servers import InfluxServer

RESULTS = Path(__file__).parent / "results" / "batch_window.json"
WINDOWS_S = (0.05, 0.25)  # the old default first, then the new one
SIZES = [(100, 15.0, 4), (1000, 6.0, 3)]  # devices, measured window (s), rounds
INTERVAL_S = 1.0  # the shortest interval that allows a 250 ms window (a quarter of it)


def _row(tmp: Path, influx_url: str, n: int, duration_s: float, rounds: int) -> dict[str, Any]:
    base = fleet_data(n, INTERVAL_S, influx_url=influx_url, spool_dir=str(tmp / "spool"))
    servers = start_servers(tmp, base)
    runs: list[dict[str, Any]] = []
    try:
        for k in range(rounds):
            # alternate which window goes first, so neither always runs on a warmer machine
            for window in WINDOWS_S if k % 2 == 0 else WINDOWS_S[::-1]:
                data = json.loads(json.dumps(base))
                data["influxdb"]["spool_dir"] = str(tmp / f"spool-{n}-{k}-{window}")
                data["collector"]["batch_window_s"] = window
                config = write_yaml(tmp / f"window-{n}-{k}-{window}.yaml", data)
                run = run_client("collector", config, 2 * INTERVAL_S + 2.0, duration_s)
                runs.append({"round": k, "window_s": window, **{key: run[key] for key in (
                    "cpu_per_poll_us", "made_share", "late_p50_ms", "late_p99_ms")}})
                print(f"  {n:>5} devices, window {window:g} s: {runs[-1]}", flush=True)
    finally:
        stop_servers(servers)
    row: dict[str, Any] = {"devices": n, "interval_s": INTERVAL_S, "window_s": duration_s,
                           "rounds": rounds, "runs": runs}
    for window in WINDOWS_S:
        mine = [r for r in runs if r["window_s"] == window]
        row[f"w{window:g}"] = {
            "cpu_per_poll_us": round(statistics.fmean(r["cpu_per_poll_us"] for r in mine), 1),
            "worst_made_share": min(r["made_share"] for r in mine),
            "late_p99_ms_max": max(r["late_p99_ms"] for r in mine)}
    old, new = WINDOWS_S
    row["new_vs_old"] = round(row[f"w{new:g}"]["cpu_per_poll_us"] /
                              row[f"w{old:g}"]["cpu_per_poll_us"], 3)
    # each round's own ratio: the machine's drift between rounds cancels out of it
    cpu = {(r["round"], r["window_s"]): r["cpu_per_poll_us"] for r in runs}
    row["new_vs_old_by_round"] = [round(cpu[k, new] / cpu[k, old], 3) for k in range(rounds)]
    return row


def main() -> None:
    t = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="pvrelief-bench-") as name:
        tmp = Path(name)
        with InfluxServer(tmp / "influx") as influx:
            rows = [_row(tmp, influx.url, n, d, rounds) for n, d, rounds in SIZES]
    result = {"windows_s": list(WINDOWS_S), "max_batch_readings": MAX_BATCH, "rows": rows,
              "load_average_after": [round(x, 2) for x in os.getloadavg()],
              "cpus": os.cpu_count(), "wall_s": round(time.perf_counter() - t, 1)}
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps([{k: r[k] for k in ("devices", "new_vs_old", "new_vs_old_by_round")}
                      for r in rows], indent=1))


if __name__ == "__main__":
    main()
