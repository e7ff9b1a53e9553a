"""A dead unit behind a shared gateway: how late does it make the live ones?

Ten units of four profiles (SunSpec, Huawei SUN2000, Sungrow SG, CHINT DTSU666) share one
simulated gateway, polled every simulated minute at 60x (one real second per interval). All
answer for the first ``BASELINE_POLLS`` slots; then one unit falls silent (every ask costs its
0.4 s timeout). The live units' lateness (real seconds from a slot's due instant to holding the
connection) before it died is the baseline, measured in the same run: what the machine's load
costs anyway. The figure is the increase after it died, as a share of the interval.

Target: < 10 % of the interval (a dead unit asked every slot, first, would add 40 %).
Result: bench/results/gateway.json. The tests check the behaviour (no live slot skipped, no
live poll failed, the dead unit backed off); the timing lives here.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from collector.reading import Reading
from collector.runner import Collector
from collector.sinks.base import CallbackSink
from config.schema import Config
from localsite.servers import free_port
from simulator.fleet import Fleet
from timebase.clock import Clock

RESULTS = Path(__file__).parent / "results" / "gateway.json"
POLL_S = 60.0
SPEED = 60.0
INTERVAL_REAL_S = POLL_S / SPEED
TIMEOUT_S = 0.4
BASELINE_POLLS = 8
DEAD_POLLS = 14
ROUNDS = 3
FLEET = [("ss-1", 1, "sunspec-inverter"), ("ss-2", 2, "sunspec-inverter"),
         ("hw-1", 3, "huawei-sun2000"), ("hw-2", 4, "huawei-sun2000"),
         ("sg-1", 5, "sungrow-sg"), ("sg-2", 6, "sungrow-sg"),
         ("ss-3", 7, "sunspec-inverter"), ("hw-3", 8, "huawei-sun2000"),
         ("dtsu", 9, "chint-dtsu666"), ("ss-meter", 10, "sunspec-meter")]
DEAD = "ss-2"


def config() -> Config:
    dies_s = BASELINE_POLLS * POLL_S
    return Config.model_validate({
        "site": {"id": "bench"},
        "collector": {"timeout_s": TIMEOUT_S},
        "simulator": {"start": "2020-06-21T11:00:00+08:00", "speed": SPEED, "seed": 3,
                      "tick_s": 10,
                      "faults": [{"device": DEAD, "kind": "no_answer", "from": dies_s}]},
        "counties": [{"id": "gonghe", "plants": [{
            "id": "p1", "capacity_kwp_dc": 840, "capacity_kw_ac": 700, "latitude": 36.27,
            "longitude": 100.62, "altitude_m": 2800,
            "gateways": [{"id": "gw1", "port": free_port(), "timeout_s": TIMEOUT_S,
                          "devices": [{"id": i, "unit_id": u, "profile": p,
                                       "poll_interval_s": POLL_S} for i, u, p in FLEET]}],
        }]}],
    })


async def one_round() -> dict[str, Any]:
    cfg = config()
    clock = Clock.starting(cfg.simulator.start, cfg.simulator.speed)
    rows: list[tuple[str, int, float]] = []  # device, reading ts, lateness

    async def keep(readings: Sequence[Reading]) -> None:
        return None

    collector = Collector(cfg, [CallbackSink(keep)], clock)
    states = {p.device.id: p.state for p in collector.pollers}

    def on_poll(device: str, ok: bool, latency_s: float, ts_ns: int | None) -> None:
        if ok and ts_ns is not None:
            rows.append((device, ts_ns, states[device].late_s[-1]))

    for p in collector.pollers:
        p.on_poll = on_poll
    live = [p for p in collector.pollers if p.device.id != DEAD]
    async with Fleet(cfg, clock):
        await collector.start()
        try:
            while not all(p.state.polls >= BASELINE_POLLS + DEAD_POLLS for p in live):
                await asyncio.sleep(0.05)
        finally:
            await collector.stop()
    dies_ns = clock.sim_start_ns + int(BASELINE_POLLS * POLL_S * 1e9)
    after_from = dies_ns + int(POLL_S * 1e9)  # the slot after it died
    ids = {p.device.id for p in live}
    before = [s for d, t, s in rows if d in ids and t < dies_ns]
    after = [s for d, t, s in rows if d in ids and t >= after_from]
    dead = next(p for p in collector.pollers if p.device.id == DEAD)
    return {
        "live_lateness_before_ms": round(statistics.fmean(before) * 1000, 2),
        "live_lateness_after_ms": round(statistics.fmean(after) * 1000, 2),
        "added_share_of_interval": round(
            (statistics.fmean(after) - statistics.fmean(before)) / INTERVAL_REAL_S, 4),
        "live_skipped_slots": sum(p.state.skipped_slots for p in live),
        "live_failed_polls": sum(p.state.failures for p in live),
        "dead_failed_polls": dead.state.failures,
        "dead_skipped_slots": dead.state.skipped_slots,
    }


def main() -> None:
    rounds = [asyncio.run(one_round()) for _ in range(ROUNDS)]
    shares = [r["added_share_of_interval"] for r in rounds]
    result = {
        "scenario": f"{len(FLEET)} units of 4 profiles behind one gateway, one dead after "
                    f"{BASELINE_POLLS} polls; interval {INTERVAL_REAL_S:g} s real, "
                    f"timeout {TIMEOUT_S} s",
        "rounds": rounds,
        "added_share_of_interval_median": statistics.median(shares),
        "added_share_of_interval_max": max(shares),
        "target": "< 0.10",
        "load_average": os.getloadavg(),
    }
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
