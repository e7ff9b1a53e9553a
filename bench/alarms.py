"""The pipeline stages' cost per reading: plausibility, counter guard, alarms, on the same readings.

A site of 10 plants with 100 SUN2000 inverters each (the profile with the most fields: eight
strings, temperature, insulation, fault codes) and a meter each; 20 polls of every device, a
minute apart around noon, each handed to the stages as the pollers do (one reading per call).

- the plausibility stage alone, and the counter guard alone;
- the counter guard, then the alarm stage with every detector on (the alarm stage's cost is
  the difference). Only ``process`` is timed: that is what runs on the event loop per reading
  (storing and notifying happen in tasks and a thread of their own);
- all three in the collector's order, each reading through the three before the next: what a
  poll pays for them (budget: 25 µs per SUN2000 reading, so that a poll with decode and the
  InfluxDB write stays within 1.5x a bare Modbus client's CPU);
- the timer: one ``tick`` over all 1,010 devices (communication loss, peer windows, the sun);
- a device's first poll through the three stages, where each learns the device, against the
  later polls' cost in the same run: what a start-up pays for every device before its polls
  cost what they cost in the steady state (at 20,000 devices the first interval's polls fell
  seconds behind their slots on this). Timed in the process's first pass, when nothing is
  compiled yet (the fast passes' code is shared process-wide by field set), not the best of 5.

Both sides run in the steady state of a collector that has been up for a while: the first poll
of every device (where each stage learns the device: its guard, its strings, its rules) is
handed to fresh stages first and not timed. Result: bench/results/alarms.json (best of 5).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from collector.alarms.stage import AlarmStage
from collector.pipeline.counters import CounterStage, device_ratings
from collector.pipeline.plausibility import PlausibilityStage
from collector.reading import Reading
from config.profiles import ProfileRegistry, load_registry
from config.schema import Config

RESULTS = Path(__file__).parent / "results" / "alarms.json"
PLANTS, INVERTERS, POLLS, RUNS = 10, 100, 20, 5
NOON_NS = 1_592_712_000 * 10**9  # 2020-06-21 12:00 Beijing time


def _config() -> Config:
    plants = [{"id": f"p{p}", "capacity_kwp_dc": 12_000, "capacity_kw_ac": 10_000,
               "latitude": 36.27, "longitude": 100.62, "gateways": [{
                   "id": f"gw{p}", "port": 20_000 + p, "devices": [
                       {"id": f"p{p}-inv", "profile": "huawei-sun2000", "unit_id": 1,
                        "repeat": INVERTERS},
                       {"id": f"p{p}-meter", "profile": "sunspec-meter", "unit_id": 200}]}]}
              for p in range(PLANTS)]
    return Config.model_validate({"counties": [{"id": "c", "plants": plants}],
                                  "state_dir": "/nonexistent/not-started"})


def _inverter(plant: int, i: int, k: int) -> Reading:
    p = 60_000.0 + 100 * i + k
    fields: dict[str, float | None] = {
        "p_ac_w": p, "p_dc_w": p * 1.02, "e_total_kwh": 100_000.0 + i + k / 60,
        "e_day_kwh": 300.0 + k / 60, "f_ac_hz": 50.0 + k * 1e-3, "t_internal_c": 45.0 + k / 10,
        "r_insulation_mohm": 3.0}
    for n in (1, 2, 3):
        fields[f"i_ac_l{n}_a"] = p / 690
        fields[f"v_ac_l{n}_v"] = 230.0 + n / 10
    for n in range(1, 9):
        fields[f"pv{n}_v_v"] = 620.0
        fields[f"pv{n}_i_a"] = 12.0 + n / 100 if n <= 6 else 0.0
    return Reading("inverter", f"p{plant}", f"p{plant}-inv-{i:03d}", NOON_NS + k * 60 * 10**9,
                   fields, status="running", faults=(),
                   counters={"e_total_kwh": "lifetime", "e_day_kwh": "daily"})


def _meter(plant: int, k: int) -> Reading:
    return Reading("meter", f"p{plant}", f"p{plant}-meter", NOON_NS + k * 60 * 10**9,
                   {"p_w": 6e6 + k, "e_export_kwh": 9e6 + k * 100, "v_l1_v": 230.0,
                    "f_hz": 50.0}, counters={"e_export_kwh": "lifetime"})


def _readings(polls: range) -> list[Reading]:
    out = []
    for k in polls:
        for p in range(PLANTS):
            out += [_inverter(p, i, k) for i in range(1, INVERTERS + 1)]
            out.append(_meter(p, k))
    return out


def _time(stages: list[Any], readings: list[Reading]) -> float:
    t0 = time.perf_counter()
    for r in readings:
        batch = [r]
        for s in stages:
            batch = s.process(batch)
    return time.perf_counter() - t0


def _warm(stages: list[Any], first: list[Reading]) -> list[Any]:
    _time(stages, first)
    return stages


def _alarms(cfg: Config, registry: ProfileRegistry, counters: CounterStage) -> AlarmStage:
    stage = AlarmStage(cfg, registry, counters)
    stage.sun.update(NOON_NS)
    return stage


def run() -> dict[str, Any]:
    cfg, registry = _config(), load_registry()
    ratings = device_ratings(cfg, registry)
    first, readings = _readings(range(1)), _readings(range(1, POLLS))
    plaus, base, full, chain, tick, learn = [], [], [], [], [], []
    for _ in range(RUNS):
        plaus.append(_time(_warm([PlausibilityStage(ratings)], first), readings))
        base.append(_time(_warm([CounterStage(ratings)], first), readings))
        counters = CounterStage(ratings)
        stage = _alarms(cfg, registry, counters)
        full.append(_time(_warm([counters, stage], first), readings))
        assert not stage.unstarted and not stage.errors  # healthy readings: nothing raised
        t0 = time.perf_counter()
        stage.sync_tick(NOON_NS + POLLS * 60 * 10**9)
        tick.append(time.perf_counter() - t0)
        counters = CounterStage(ratings)
        stages = [PlausibilityStage(ratings), counters, _alarms(cfg, registry, counters)]
        learn.append(_time(stages, first))
        chain.append(_time(stages, readings))
    n = len(readings)
    plaus_us, base_us = min(plaus) / n * 1e6, min(base) / n * 1e6
    full_us, chain_us = min(full) / n * 1e6, min(chain) / n * 1e6
    return {"readings": n, "devices": PLANTS * (INVERTERS + 1),
            "plausibility_us_per_reading": round(plaus_us, 2),
            "counters_us_per_reading": round(base_us, 2),
            "counters_and_alarms_us_per_reading": round(full_us, 2),
            "alarms_us_per_reading": round(full_us - base_us, 2),
            "alarms_vs_counters": round((full_us - base_us) / base_us, 2),
            "stages_us_per_reading": round(chain_us, 2),
            "first_poll_us_per_reading": round(learn[0] / len(first) * 1e6, 2),
            "first_poll_vs_later": round(learn[0] / len(first) * 1e6 / chain_us, 1),
            "tick_ms": round(min(tick) * 1e3, 2)}


def main() -> None:
    result = run()
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(f"stages: {result['stages_us_per_reading']} us per reading (plausibility "
          f"{result['plausibility_us_per_reading']} us, counter guard "
          f"{result['counters_us_per_reading']} us, alarm stage "
          f"{result['alarms_us_per_reading']} us); a device's first poll "
          f"{result['first_poll_us_per_reading']} us; a tick over {result['devices']} devices "
          f"{result['tick_ms']} ms -> {RESULTS}", flush=True)


if __name__ == "__main__":
    main()
