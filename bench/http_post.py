"""The collector's InfluxDB POSTs: httpx (the baseline) against ``influx/http11.py``.

Against one local InfluxDB 1.x started here, both clients POST the same bodies of 1 and of 100
SUN2000 readings (as the collector encodes them) one after another, each waiting for its
answer, as the sink posts once a linger. The lean side is ``InfluxWriter.write`` itself; the
baseline is ``httpx.AsyncClient.post`` with the same URL, parameters and headers, as the writer
posted before. Measured: this process's CPU time per POST over ``POSTS`` POSTs, in ``ROUNDS``
rounds alternating which client goes first (the machine is shared); the median round counts.
Result: bench/results/http_post.json.
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from bench._fleet import simulated_reading
from config.influx import InfluxSettings
from influx.client import InfluxWriter
from influx.lineprotocol import body, reading_lines
from localsite.servers import InfluxServer

RESULTS = Path(__file__).parent / "results" / "http_post.json"
SIZES = (1, 100)  # readings a POST
POSTS = 300
ROUNDS = 5


async def _cpu_per_post(post: Any, payload: bytes) -> float:
    for _ in range(5):  # connections made, lazy imports done
        await post(payload)
    t = time.process_time()
    for _ in range(POSTS):
        await post(payload)
    return (time.process_time() - t) / POSTS


async def _measure(url: str, readings: int) -> dict[str, Any]:
    settings = InfluxSettings(url=url, database="bench_http")
    writer = InfluxWriter(settings)
    assert await writer.create_database()
    payload = body(reading_lines([
        simulated_reading("huawei-sun2000", device=f"inv-{i}", ts_ns=1_750_000_000 * 10**9 + i)
        for i in range(readings)]))
    baseline = httpx.AsyncClient(timeout=settings.timeout_s)
    params = {"db": settings.database, "precision": "ns"}
    headers = {"Content-Type": "text/plain; charset=utf-8"}

    async def lean(b: bytes) -> None:
        assert await writer.write(b, "ns") == []

    async def with_httpx(b: bytes) -> None:
        r = await baseline.post(f"{url.rstrip('/')}/write", params=params, content=b,
                                headers=headers)
        assert r.status_code == 204, r.text

    runs: dict[str, list[float]] = {"httpx": [], "http11": []}
    try:
        for k in range(ROUNDS):
            order = [("httpx", with_httpx), ("http11", lean)]
            for name, post in order if k % 2 == 0 else order[::-1]:
                runs[name].append(await _cpu_per_post(post, payload))
    finally:
        await baseline.aclose()
        await writer.aclose()
    httpx_ms, lean_ms = (statistics.median(runs[n]) * 1000 for n in ("httpx", "http11"))
    return {"readings": readings, "body_bytes": len(payload),
            "httpx_cpu_ms_per_post": round(httpx_ms, 3),
            "http11_cpu_ms_per_post": round(lean_ms, 3),
            "httpx_vs_http11": round(httpx_ms / lean_ms, 1),
            "runs_ms": {n: [round(x * 1000, 3) for x in v] for n, v in runs.items()}}


def main() -> None:
    with tempfile.TemporaryDirectory() as d, InfluxServer(Path(d) / "influx") as influx:
        rows = [asyncio.run(_measure(influx.url, n)) for n in SIZES]
    result = {"benchmark": "http_post", "posts_per_run": POSTS, "rounds": ROUNDS,
              "python": platform.python_version(), "cpus": os.cpu_count(),
              "load_average_1min": round(os.getloadavg()[0], 2), "rows": rows}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    for r in rows:
        print(f"{r['readings']:>4} readings a POST: httpx {r['httpx_cpu_ms_per_post']} ms, "
              f"http11 {r['http11_cpu_ms_per_post']} ms of CPU ({r['httpx_vs_http11']}x)")
    print(f"-> {RESULTS}")


if __name__ == "__main__":
    main()
