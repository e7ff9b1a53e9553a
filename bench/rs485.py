"""RS485 behind a gateway: how much of a 9600-baud bus the collector keeps busy.

30 Huawei SUN2000 inverters (two reads per poll, about 0.22 s on the wire each) sit on one
simulated 9600-baud 8N1 bus behind one gateway (the simulator's lean server emulates the bus:
one transaction at a time, 3.5-character silences, a 10 ms turnaround). A 5 s interval asks for
about 130 % of what the bus can carry. Measured side by side in the same run:

- ``planned``: the collector knows the bus (``gateways[].serial``): it spreads the polls back
  to back in bus time, warns, and stretches the intervals to what the bus carries;
- ``unplanned``: the same collector without ``serial`` (the simulator still emulates the bus):
  jitter offsets, every device on its own 5 s schedule, the gateway's queue sorts it out.

Reported for each: the bus's utilisation (seconds it carried transactions, from the
simulator, over the window), the share of it that was data bits on the wire, polls per device
(fewest and most: nobody may starve) and lateness. Target: >= 90 % utilisation when the
schedule asks for more than the bus can carry, no device starved. ``measure_bus`` is also run
by ``bench/collector.py``, whose result file holds it.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from collector.reading import Reading
from collector.runner import Collector
from collector.sinks.base import CallbackSink
from config.schema import Config
from config.serial_bus import ANSWER_OVERHEAD_BYTES, READ_REQUEST_BYTES, SerialBus
from localsite.servers import free_port
from simulator.fleet import Fleet
from timebase.clock import Clock

INVERTERS = 30
INTERVAL_S = 5.0
WARMUP_S = 6.0
WINDOW_S = 25.0
BUS = {"baud": 9600, "framing": "8N1", "turnaround_s": 0.01}
START = "2020-06-21T11:00:00+08:00"


def config(serial: bool) -> Config:
    gateway: dict[str, Any] = {
        "id": "rs485", "port": free_port(), "timeout_s": 5.0, "serial": BUS,
        "devices": [{"id": "inv", "unit_id": 1, "repeat": INVERTERS,
                     "profile": "huawei-sun2000", "poll_interval_s": INTERVAL_S}]}
    cfg = Config.model_validate({
        "collector": {"timeout_s": 5.0, "jitter_s": INTERVAL_S},
        "simulator": {"start": START, "speed": 1.0, "tick_s": 60, "modbus_server": "lean"},
        "counties": [{"id": "c", "plants": [{
            "id": "p1", "capacity_kwp_dc": 3600, "capacity_kw_ac": 3000, "latitude": 36.27,
            "longitude": 100.62, "gateways": [gateway]}]}]})
    if not serial:  # the collector is not told; the simulator (given `sim`) still emulates
        cfg.plants()[0].gateways[0].serial = None
    return cfg


async def one_run(planned: bool) -> dict[str, Any]:
    sim_cfg = config(serial=True)
    col_cfg = sim_cfg.model_copy(deep=True)
    if not planned:
        col_cfg.plants()[0].gateways[0].serial = None
    clock = Clock.starting(sim_cfg.simulator.start, 1.0)
    polls: dict[str, int] = {}
    late: list[float] = []
    window = [float("inf"), float("inf")]

    async def keep(readings: Sequence[Reading]) -> None:
        now = time.time()
        if window[0] <= now < window[1]:
            for r in readings:
                polls[r.device] = polls.get(r.device, 0) + 1

    collector = Collector(col_cfg, [CallbackSink(keep)], clock)
    async with Fleet(sim_cfg, clock) as fleet:
        server = fleet.servers[0]
        await collector.start()
        try:
            await asyncio.sleep(WARMUP_S)
            window[:] = [time.time(), time.time() + WINDOW_S]
            busy0 = server.bus_busy_s
            requests0 = server._lean.requests if server._lean else 0
            seen = {p.device.id: len(p.state.late_s) for p in collector.pollers}
            await asyncio.sleep(WINDOW_S)
            busy = server.bus_busy_s - busy0
            requests = (server._lean.requests if server._lean else 0) - requests0
            for p in collector.pollers:  # late_s keeps the newest 64: a window has fewer
                late += list(p.state.late_s)[seen[p.device.id]:]
        finally:
            await collector.stop()
    bus = SerialBus(**BUS)
    counts = [polls.get(p.device.id, 0) for p in collector.pollers]
    reads = sum(r.count for r in collector.pollers[0].decoder.reads)
    per_poll_bits = sum(READ_REQUEST_BYTES + ANSWER_OVERHEAD_BYTES + 2 * r.count
                        for r in collector.pollers[0].decoder.reads) * bus.char_s * bus.baud
    plan = collector.bus_plans[0] if collector.bus_plans else None
    return {
        "planned": planned,
        "demand": round(plan.demand, 3) if plan else None,
        "stretch": round(plan.stretch, 3) if plan else None,
        "utilisation": round(busy / WINDOW_S, 3),
        "data_bits_share": round(sum(counts) * per_poll_bits / bus.baud / WINDOW_S, 3),
        "requests": requests,
        "polls": sum(counts),
        "polls_per_device_min": min(counts), "polls_per_device_max": max(counts),
        "registers_per_poll": reads,
        "late_p50_ms": round(statistics.median(late) * 1000, 1) if late else None,
        "late_max_ms": round(max(late) * 1000, 1) if late else None,
    }


def measure_bus(tmp: Path | None = None) -> dict[str, Any]:
    bus = SerialBus(**BUS)
    poll_s = sum(bus.read_s(c) for c in (24, 52))  # the SUN2000 plan: 2 reads
    return {
        "scenario": f"{INVERTERS} Huawei SUN2000 on one {BUS['baud']}-baud {BUS['framing']} "
                    f"bus, {INTERVAL_S:g} s interval (asks {INVERTERS * poll_s / INTERVAL_S:.0%}"
                    f" of the bus), {WINDOW_S:g} s window",
        "poll_on_wire_s": round(poll_s, 4),
        "overloaded": asyncio.run(one_run(planned=True)),
        "overloaded_unplanned": asyncio.run(one_run(planned=False)),
        "target": ">= 0.90 utilisation, no device starved",
    }


if __name__ == "__main__":
    print(json.dumps(measure_bus(), indent=1), file=sys.stdout)
