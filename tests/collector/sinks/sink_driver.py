"""A stand-in collector for the kill -9 test: puts synthetic readings into an InfluxSink.

    python sink_driver.py SPOOL_DIR URL DB ACCEPTED_FILE START_MS COUNT

Puts one reading per device every 20 ms for COUNT rounds (then idles), with timestamps
START_MS + round (ms). After each put() returns it appends "device ts_ns accept_time" to
ACCEPTED_FILE with one unbuffered write, so a SIGKILL loses no record of what was accepted.
On SIGTERM it stops putting, awaits sink.close() and exits 0, as the collector runner does.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
from pathlib import Path

from collector.reading import Reading
from collector.sinks.influx import InfluxSink
from config.influx import InfluxSettings

DEVICES = [f"inv-{i:02d}" for i in range(5)]
LINGER_S = 0.2


async def main(spool: str, url: str, db: str, accepted: str, start_ms: int, count: int) -> None:
    settings = InfluxSettings(
        url=url, database=db, spool_dir=Path(spool), linger_s=LINGER_S, batch_size=50,
        retry_initial_s=0.05, retry_max_s=0.3, timeout_s=2, close_timeout_s=5,
        spool_max_bytes=64 * 1024 * 1024, spool_segment_bytes=64 * 1024,
    )
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    fd = os.open(accepted, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    async with InfluxSink(settings) as sink:
        os.write(fd, b"# started\n")
        for n in range(count):
            if stop.is_set():
                break
            ts_ns = (start_ms + n) * 1_000_000
            batch = [Reading("inverter", "p1", d, ts_ns, {"p_ac_w": float(n)}) for d in DEVICES]
            await sink.put(batch)
            now = time.time()
            os.write(fd, "".join(f"{d} {ts_ns} {now:.3f}\n" for d in DEVICES).encode())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.02)
        await stop.wait()
    os.close(fd)


if __name__ == "__main__":
    a = sys.argv[1:]
    asyncio.run(main(a[0], a[1], a[2], a[3], int(a[4]), int(a[5])))
