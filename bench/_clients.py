"""The three clients ``bench/collector.py`` compares, each run alone in a process of its own.

    python -m bench._clients floor|pymodbus|collector|startup CONFIG WARMUP_S DURATION_S

- ``floor``: a minimal hand-written asyncio Modbus TCP client, one connection and one task per
  gateway walking its devices' schedule; it reads the registers and does nothing with them:
  the least CPU Python can spend on these reads on this machine.
- ``pymodbus``: the same loop on pymodbus's ``AsyncModbusTcpClient``, as simple collectors do.
- ``collector``: pvrelief's collector as ``pvrelief collect`` runs it: the config loaded from
  YAML, the Modbus source, the pipeline (plausibility, counter guard, alarms with every
  detector on, their state in SQLite) and the InfluxDB sink to a real influxd.
- ``startup``: only build and start the collector for the config, then stop.

All three keep the same schedule (slot k of a device is due at k * interval + its jitter
offset, the collector's formula) and the same reads (the collector's plan of each profile).
After a warm-up, a window of DURATION_S is measured: polls completed in it against slots due in
it, lateness (due instant to the first request sent), the process's own CPU time per poll
(``time.process_time``), its RSS. One JSON object is printed on stdout.
"""

from __future__ import annotations

import asyncio
import faulthandler
import gc
import heapq
import json
import math
import os
import resource
import statistics
import struct
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from collector.sources.modbus.decode import DeviceDecoder
from collector.sources.modbus.plan import Read
from collector.sources.polling import jitter_offset_ns
from config.loader import load_config
from config.profiles import load_registry
from config.schema import Config, Device

GRACE_S = 2.0
ReadFn = Callable[[int, Read], Awaitable[object]]


class Window:
    """What happened in the measured window."""

    def __init__(self, warmup_s: float, duration_s: float) -> None:
        self.warmup_s, self.duration_s = warmup_s, duration_s
        self.t0 = self.t1 = math.inf  # armed once the client is up

    def arm(self) -> None:
        self.t0 = time.time() + self.warmup_s
        self.t1 = self.t0 + self.duration_s
        self.polls = 0
        self.failed = 0
        self.late: list[float] = []
        self.late_due: list[float] = []  # the due instant of each poll in ``late``
        self.cpu_marks: list[tuple[float, float]] = []  # (wall, process CPU) each second
        self.cpu0: float | None = None
        self.cpu1: float | None = None
        self.done = False  # the loops end on this: pymodbus can turn a cancel into an error
        self.gc_s = 0.0  # time in Python's cyclic garbage collector during the window
        self.gc_by_gen = [0.0, 0.0, 0.0]
        self.loop_lag: list[float] = []
        self.gc_count = [0, 0, 0]
        self._gc_t = 0.0
        gc.callbacks.append(self._gc)

    def _gc(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._gc_t = time.perf_counter()
        elif self.cpu0 is not None and self.cpu1 is None:
            took = time.perf_counter() - self._gc_t
            self.gc_s += took
            self.gc_by_gen[info["generation"]] += took
            self.gc_count[info["generation"]] += 1

    def poll(self, due: float, late_s: float, ok: bool) -> None:
        """A poll of the slot due at ``due`` (wall time) ended; it counts if due in the window."""
        if self.t0 <= due < self.t1:
            if ok:
                self.polls += 1
                self.late.append(late_s)
                self.late_due.append(due)
            else:
                self.failed += 1

    async def _watch_loop(self) -> None:
        """How late a 20 ms sleep wakes: the event loop's stalls (blocking calls, GC); and the
        process's CPU time once a second, for the timeline."""
        while True:
            t = time.perf_counter()
            if not self.cpu_marks or time.time() - self.cpu_marks[-1][0] >= 1.0:
                self.cpu_marks.append((time.time(), time.process_time()))
            await asyncio.sleep(0.02)
            self.loop_lag.append(time.perf_counter() - t - 0.02)

    def seconds(self) -> list[dict[str, Any]]:
        """The window second by second (by due instant): polls, their lateness, this
        process's CPU. With the CPU that the processes beside took in each second (the
        benchmark adds it), it says when the schedule slipped and who had the cores then."""
        by: dict[int, list[float]] = {}
        for due, late in zip(self.late_due, self.late, strict=True):
            by.setdefault(int(due - self.t0), []).append(late)
        marks = self.cpu_marks
        out = []
        for k in range(int(self.duration_s)):
            late = sorted(by.get(k, [])) or [math.nan]
            t = self.t0 + k
            inside = [m for m in marks if t <= m[0] <= t + 1.5]
            cores = round((inside[-1][1] - inside[0][1]) / (inside[-1][0] - inside[0][0]), 2) \
                if len(inside) >= 2 and inside[-1][0] > inside[0][0] else None
            out.append({"second": k, "polls": len(by.get(k, [])),
                        "late_p99_ms": round(_p99(late) * 1000, 1),
                        "late_max_ms": round(late[-1] * 1000, 1), "cores": cores})
        return out

    async def run(self, extra: Callable[[str], None] | None = None) -> None:
        self.arm()
        await asyncio.sleep(max(0.0, self.t0 - time.time()))
        watch = asyncio.create_task(self._watch_loop())
        self.cpu0 = time.process_time()
        if extra:
            extra("start")
        await asyncio.sleep(max(0.0, self.t1 - time.time()))
        self.cpu1 = time.process_time()
        self.cpu_marks.append((time.time(), self.cpu1))  # the timeline's last second
        watch.cancel()
        if extra:
            extra("end")
        await asyncio.sleep(GRACE_S)  # polls due before the end may still complete
        self.done = True

    def result(self, devices: list[tuple[Device, float]]) -> dict[str, Any]:
        scheduled = sum(_slots(dev.poll_interval_s, off, self.t0, self.t1)
                        for dev, off in devices)
        late = sorted(self.late) or [math.nan]
        assert self.cpu0 is not None and self.cpu1 is not None
        cpu = self.cpu1 - self.cpu0
        return {
            "polls": self.polls, "scheduled": scheduled, "failed": self.failed,
            "made_share": round(self.polls / scheduled, 4) if scheduled else None,
            "late_p50_ms": round(statistics.median(late) * 1000, 2),
            "late_p99_ms": round(late[min(len(late) - 1, int(0.99 * len(late)))] * 1000, 2),
            "cpu_s": round(cpu, 3),
            "gc_s": round(self.gc_s, 3),
            "loop_stall_p99_ms": round(_p99(self.loop_lag) * 1000, 1),
            "loop_stall_max_ms": round(max(self.loop_lag, default=math.nan) * 1000, 1),
            "gc_s_by_generation": [round(x, 3) for x in self.gc_by_gen],
            "gc_collections": self.gc_count,
            "cpu_per_poll_us": round(cpu / self.polls * 1e6, 1) if self.polls else None,
            "rss_mb": round(_rss_kb() / 1024, 1),
            "window_wall": [round(self.t0, 3), round(self.t1, 3)],
            "by_second": self.seconds(),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        }


def _p99(values: list[float]) -> float:
    ordered = sorted(values) or [math.nan]
    return ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]


def _slots(interval_s: float, offset_s: float, t0: float, t1: float) -> int:
    return math.ceil((t1 - offset_s) / interval_s) - math.ceil((t0 - offset_s) / interval_s)


def _rss_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def offsets(cfg: Config) -> list[tuple[Device, float]]:
    """Each device and its jitter offset, as the collector's DevicePoller draws it."""
    jitter = cfg.collector.jitter_s
    return [(d, jitter_offset_ns(d.id, jitter) / 1e9) for _, d in cfg.devices()]


# -- floor and pymodbus: one task per gateway walking its devices' schedule ----------------
class FloorConnection(asyncio.Protocol):
    """The least a Modbus TCP client does: frame a read, match the answer, unpack words."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buf = b""
        self.tid = 0
        self.waiting: dict[int, asyncio.Future[bytes]] = {}

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        buf = self.buf + data
        while len(buf) >= 6:
            tid, _, length = struct.unpack_from(">HHH", buf)
            if len(buf) < 6 + length:
                break
            fut = self.waiting.pop(tid, None)
            if fut is not None and not fut.done():
                fut.set_result(buf[9 : 6 + length])  # past unit, function, byte count
            buf = buf[6 + length :]
        self.buf = buf

    async def read(self, unit: int, r: Read) -> tuple[int, ...]:
        assert self.transport is not None
        self.tid = (self.tid + 1) & 0xFFFF
        fut = asyncio.get_running_loop().create_future()
        self.waiting[self.tid] = fut
        self.transport.write(struct.pack(">HHHBBHH", self.tid, 0, 6, unit,
                                         3 if r.table == "holding" else 4, r.address, r.count))
        return struct.unpack(f">{r.count}H", await fut)


async def floor_reader(host: str, port: int) -> ReadFn:
    loop = asyncio.get_running_loop()
    _, conn = await loop.create_connection(FloorConnection, host, port)
    return conn.read


async def pymodbus_reader(host: str, port: int) -> ReadFn:
    from pymodbus.client import AsyncModbusTcpClient

    client = AsyncModbusTcpClient(host, port=port, timeout=2.0, retries=0)
    await client.connect()

    async def read(unit: int, r: Read) -> object:
        fn = (client.read_holding_registers if r.table == "holding"
              else client.read_input_registers)
        rr = await fn(r.address, count=r.count, device_id=unit)
        if rr.isError():
            raise RuntimeError(f"unit {unit}: {rr}")
        return rr.registers
    return read


async def gateway_loop(read: ReadFn, devices: list[tuple[int, list[Read], float, float]],
                       window: Window) -> None:
    """Poll each (unit, reads, interval, offset) at its slots; a slot passed is skipped."""
    now = time.time()
    heap = [(math.ceil((now - off) / iv) * iv + off, i) for i, (_, _, iv, off) in
            enumerate(devices)]
    heapq.heapify(heap)
    while not window.done:
        due, i = heap[0]
        wait = due - time.time()
        if wait > 0:
            await asyncio.sleep(wait)
        unit, reads, iv, off = devices[i]
        late = time.time() - due
        try:
            for r in reads:
                await read(unit, r)
            window.poll(due, late, True)
        except Exception:  # counted; the loop goes on as a collector's would
            window.poll(due, late, False)
        nxt = due + iv
        now = time.time()
        if nxt < now:  # behind by more than a slot: catch up, not burst
            nxt = math.ceil((now - off) / iv) * iv + off
        heapq.heapreplace(heap, (nxt, i))


async def run_loops(cfg: Config, window: Window, make: Callable[[str, int], Awaitable[ReadFn]]
                    ) -> dict[str, Any]:
    registry = load_registry()
    plans = {name: DeviceDecoder(registry[name], cfg.collector.max_hole).reads
             for name in {d.profile for _, d in cfg.devices()}}
    by_gateway: dict[tuple[str, int], list[tuple[int, list[Read], float, float]]] = {}
    devices = offsets(cfg)
    for dev, off in devices:
        by_gateway.setdefault((dev.host, dev.port), []).append(
            (dev.unit_id, plans[dev.profile], dev.poll_interval_s, off))
    readers = [await make(h, p) for h, p in by_gateway]
    tasks = [asyncio.create_task(gateway_loop(r, devs, window))
             for r, devs in zip(readers, by_gateway.values(), strict=True)]
    await window.run()
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return window.result(devices)


# -- the collector ------------------------------------------------------------------------
async def run_collector(path: Path, warmup_s: float, duration_s: float,
                        start_only: bool = False) -> dict[str, Any]:
    from collector.gcpolicy import freeze_settled_heap, freeze_startup_heap
    from collector.metrics import Metrics
    from collector.runner import Collector, build_sinks

    t = time.perf_counter()
    cfg = load_config(path)
    loaded = time.perf_counter() - t
    # a spool and an alarm state of its own: another run's undelivered backlog would be
    # replayed here, and its open alarms carried on
    cfg.state_dir = cfg.influxdb.spool_dir / f"state-{os.getpid()}"
    cfg.influxdb.spool_dir = cfg.influxdb.spool_dir / f"run-{os.getpid()}"
    metrics = Metrics()
    window = Window(warmup_s, duration_s)
    states: dict[str, Any] = {}
    due: dict[str, float] = {}  # device -> the due instant of its poll in progress

    def on_poll(device: str, ok: bool, latency_s: float, ts_ns: int | None) -> None:
        late = states[device].late_s
        window.poll(due.get(device, 0.0), late[-1] if late else 0.0, ok)

    collector = Collector(cfg, build_sinks(cfg, metrics), on_poll=on_poll)
    for p in collector.pollers:  # instrumentation: the poller says when a slot was due here
        states[p.device.id] = p.state
        p.note_late = _recording(p.note_late, due, p.device.id)  # type: ignore[method-assign]
    await collector.start()
    freeze_startup_heap()  # as pvrelief collect does, and again once every device was polled
    startup = time.perf_counter() - t
    out: dict[str, Any] = {"startup_s": round(startup, 3), "config_load_s": round(loaded, 3),
                           "devices": len(states)}
    if start_only:
        await collector.stop()
        return out
    settle = asyncio.create_task(freeze_settled_heap(collector.settle_after_s))
    written: dict[str, float] = {}

    def mark(at: str) -> None:
        written[at] = metrics.counters["readings_written"]

    await window.run(mark)
    settle.cancel()
    await collector.stop()
    out.update(window.result(offsets(cfg)))
    out["readings_written_per_s"] = round((written["end"] - written["start"]) / duration_s)
    out["readings_written_total"] = int(metrics.counters["readings_written"])
    return out


def _recording(note_late: Callable[[float | None], None], due: dict[str, float],
               device: str) -> Callable[[float | None], None]:
    def note(due_wall: float | None) -> None:
        if due_wall is not None:
            due[device] = due_wall
        note_late(due_wall)
    return note


def main() -> None:
    mode, path = sys.argv[1], Path(sys.argv[2])
    warmup_s, duration_s = float(sys.argv[3]), float(sys.argv[4])
    # a client that hangs fails with every thread's stack instead of holding the benchmark
    faulthandler.dump_traceback_later(
        float(os.environ.get("BENCH_CLIENT_DEADLINE_S", 300)) + warmup_s + duration_s, exit=True)
    if mode in ("collector", "startup"):
        result = asyncio.run(run_collector(path, warmup_s, duration_s, mode == "startup"))
    else:
        cfg = load_config(path)
        make = floor_reader if mode == "floor" else pymodbus_reader
        result = asyncio.run(run_loops(cfg, Window(warmup_s, duration_s), make))
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
