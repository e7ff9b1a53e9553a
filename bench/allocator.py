"""Allocation benchmark: numpy path vs. the Decimal reference, same inputs, same run.

Sizes (a year of daily energy, every plant's shares change on the 1st of every month):
  qinghai   1,622 villages,    500 plants
  national 60,000 villages, 10,000 plants

Both sides start from the same records (the villages and plants mappings of one ``Inputs``,
whose share records name each plant's villages with one tuple, as the YAML loader makes them)
and the same ``EnergyTable``, and end with an ``Allocation``. The reference reads the records
as they are. The numpy side needs three steps, all timed, together and apart:
``Inputs(villages, plants)`` (its read-only mappings and ``Inputs.columns``, the records as
flat int64 arrays: only numpy needs them), ``compile_period`` (the period's segments, pairs and
pair-segments) and ``allocate_compiled`` (the engine).

Time: CPU time of this process (process_time) is the headline, because the 2-core machine is
shared: a side's wall clock stretches with other work, the reference's 25 s far more than
numpy's 0.2 s, which would flatter the ratio. Wall clock is recorded beside it
(``wall_seconds``, ``speedup_vs_decimal_wall``). Five end-to-end numpy runs: ``cpu_seconds`` is
the best, ``cpu_seconds_median`` the median; ``columns_cpu_seconds``, ``compile_cpu_seconds``
and ``engine_cpu_seconds`` are the best of each part over the same runs.
``speedup_vs_decimal`` = ``decimal_cpu_seconds`` / ``cpu_seconds`` (end to end, columns
included: the headline); ``speedup_vs_decimal_engine_only`` divides by the engine alone and is
not the headline.
The Decimal reference runs once, in full unless PVRELIEF_BENCH_REF_PLANTS asks for a linear
extrapolation (only worth it should it ever take minutes).
Memory: tracemalloc peak of one end-to-end call (columns, compile and engine; numpy reports its
buffers to tracemalloc), in a separate traced run so tracing does not slow the timed ones.
Results must be equal (canonical form) or it fails. ``load_average`` is os.getloadavg()
(1, 5, 15 min) before and after each size: the machine is shared.
"""

from __future__ import annotations

import gc
import json
import os
import sys
import time
import tracemalloc
from array import array
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

from allocator.allocate import allocate_compiled
from allocator.compile import compile_period
from allocator.energy import EnergyTable
from allocator.model import DeductionRecord, Inputs, Plant, ShareRecord, TariffRecord, Village
from allocator.periods import Period, parse_period
from allocator.reference import allocate_reference

RESULTS = Path(__file__).parent / "results" / "allocator.json"
SIZES = {"qinghai": (1_622, 500), "national": (60_000, 10_000)}
USAGE = (("collective", 60), ("jobs_and_rewards", 40))
# The reference at national size: run in full unless PVRELIEF_BENCH_REF_PLANTS asks for a sample.
REF_SAMPLE = int(os.environ.get("PVRELIEF_BENCH_REF_PLANTS", "0"))


def build(n_villages: int, n_plants: int, year: int = 2020, seed: int = 7):
    """Synthetic inputs: villages dealt to plants (1 to ~12 each), monthly re-split shares."""
    rng = np.random.default_rng(seed)
    period = parse_period(str(year))
    ids = [f"v{i:05d}" for i in range(n_villages)]  # one string per village, as the loader has
    villages = {v: Village(v, f"村{i}", USAGE) for i, v in enumerate(ids)}
    owner = np.concatenate([np.arange(n_plants), rng.integers(0, n_plants, n_villages - n_plants)])
    rng.shuffle(owner)
    members: list[list[str]] = [[] for _ in range(n_plants)]
    for v, p in enumerate(owner):
        members[p].append(ids[v])
    months = [date(year, m, 1) for m in range(1, 13)]
    tariffs = (TariffRecord(date(2016, 1, 1), 3247, 4253),)
    plants = {}
    for p in range(n_plants):
        vs = tuple(members[p])  # one tuple for all the plant's records, as the loader does
        capacity = 290_000 * len(vs)
        shares = []
        for m in months:
            cuts = np.sort(rng.integers(0, capacity + 1, len(vs) - 1))
            parts = np.diff(np.concatenate([[0], cuts, [capacity]]))
            shares.append(ShareRecord(m, vs, array("q", parts.tolist())))
        deductions = (DeductionRecord(date(2020, 1, 1), 100, 300_000, 2_000_000, 500_000, 200),)
        kind = "village" if len(vs) == 1 else "multi-village"
        plants[f"p{p:05d}"] = Plant(f"p{p:05d}", f"电站{p}", kind, capacity, f"m{p}", capacity,
                                    tuple(shares), tariffs, deductions)
    caps = np.array([plants[f"p{p:05d}"].capacity_w for p in range(n_plants)])
    wh = (rng.random((n_plants, period.days)) * caps[:, None] * 6).astype(np.int64)
    energy = EnergyTable(period, tuple(plants), wh)
    return Inputs(villages, plants), period, energy


def _clocks() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


def _since(t: tuple[float, float]) -> tuple[float, float]:
    """(wall, CPU) seconds since ``t``."""
    now = _clocks()
    return now[0] - t[0], now[1] - t[1]


def _timed(fn: Callable[[], Any]) -> tuple[Any, tuple[float, float]]:
    gc.collect()
    t0 = _clocks()
    out = fn()
    return out, _since(t0)


def _peak_mb(fn: Callable[[], Any]) -> float:
    gc.collect()
    tracemalloc.start()
    tracemalloc.reset_peak()
    fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return round(peak / 2**20, 1)


def _numpy(inputs: Inputs, period: Period, energy: EnergyTable) -> Any:
    """The numpy side from the records: columns, compile, engine."""
    own = Inputs(inputs.villages, inputs.plants)
    return allocate_compiled(compile_period(own, period, energy))


Clock = tuple[float, float]  # (wall, CPU) seconds


def _end_to_end(inputs: Inputs, period: Period,
                energy: EnergyTable) -> tuple[Any, Clock, Clock, Clock]:
    """One numpy run from the records: (allocation, columns, compile and engine seconds)."""
    gc.collect()
    t0 = _clocks()
    own = Inputs(inputs.villages, inputs.plants)
    columns = _since(t0)
    t1 = _clocks()
    compiled = compile_period(own, period, energy)
    compiling = _since(t1)
    t2 = _clocks()
    out = allocate_compiled(compiled)
    return out, columns, compiling, _since(t2)


def _best_median(runs: list[float]) -> tuple[float, float]:
    return min(runs), sorted(runs)[len(runs) // 2]


def _columns_mb(inputs: Inputs) -> float:
    cols = inputs.columns
    arrays = [cols.plant_values, cols.village_usage, cols.entries.record, cols.entries.village,
              cols.entries.numerator]
    for dated in (cols.shares, cols.tariffs, cols.deductions):
        arrays += [dated.count, dated.start, dated.values]
    return round(sum(a.nbytes for a in arrays) / 2**20, 1)


def run_size(name: str, n_villages: int, n_plants: int) -> dict[str, Any]:
    load_before = [round(x, 2) for x in os.getloadavg()]
    inputs, period, energy = build(n_villages, n_plants)
    runs = [_end_to_end(inputs, period, energy) for _ in range(5)]
    fast = runs[-1][0]
    # [part][clock] -> list of runs; part 0 columns, 1 compile, 2 engine; clock 0 wall, 1 CPU
    parts = [[[r[k][c] for r in runs] for c in (0, 1)] for k in (1, 2, 3)]
    total = [[sum(r[k][c] for k in (1, 2, 3)) for r in runs] for c in (0, 1)]
    peak = _peak_mb(lambda: _numpy(inputs, period, energy))

    sample = min(REF_SAMPLE, n_plants) if REF_SAMPLE else n_plants
    ref_inputs = inputs
    if sample < n_plants:  # the first `sample` plants by id, extrapolated linearly
        keep = sorted(inputs.plants)[:sample]
        ref_inputs = Inputs(inputs.villages, {p: inputs.plants[p] for p in keep})
    slow, (ref_wall, ref_cpu) = _timed(lambda: allocate_reference(ref_inputs, period, energy))
    scale = n_plants / sample  # 1 unless extrapolated
    ref_wall, ref_cpu = ref_wall * scale, ref_cpu * scale
    if sample < n_plants:
        sub = allocate_compiled(compile_period(ref_inputs, period, energy))
        equal = sub.canonical() == slow.canonical()
    else:
        equal = fast.canonical() == slow.canonical()
    small = Inputs(inputs.villages, {p: inputs.plants[p] for p in sorted(inputs.plants)[:50]})
    ref_peak = _peak_mb(lambda: allocate_reference(small, period, energy))
    (cpu, cpu_median), (wall, wall_median) = _best_median(total[1]), _best_median(total[0])
    shape = compile_period(inputs, period, energy)  # untimed: only for the sizes below
    result = {
        "villages": n_villages, "plants": n_plants, "days": period.days,
        "pairs": int(shape.pair_plant.size), "pair_segments": int(shape.ps_pair.size),
        "cpu_seconds": round(cpu, 4), "cpu_seconds_median": round(cpu_median, 4),
        "cpu_seconds_runs": [round(r, 4) for r in total[1]],
        "columns_cpu_seconds": round(min(parts[0][1]), 4),
        "compile_cpu_seconds": round(min(parts[1][1]), 4),
        "engine_cpu_seconds": round(min(parts[2][1]), 4),
        "wall_seconds": round(wall, 4), "wall_seconds_median": round(wall_median, 4),
        "wall_seconds_runs": [round(r, 4) for r in total[0]],
        "columns_wall_seconds_runs": [round(r, 4) for r in parts[0][0]],
        "compile_wall_seconds_runs": [round(r, 4) for r in parts[1][0]],
        "engine_wall_seconds_runs": [round(r, 4) for r in parts[2][0]],
        "peak_mb": peak,
        "decimal_cpu_seconds": round(ref_cpu, 2),
        "decimal_wall_seconds": round(ref_wall, 2),
        "decimal_measured_plants": sample,
        "decimal_extrapolated": sample < n_plants,
        "decimal_peak_mb_per_50_plants": ref_peak,
        "speedup_vs_decimal": round(ref_cpu / cpu, 1),
        "speedup_vs_decimal_median": round(ref_cpu / cpu_median, 1),
        "speedup_vs_decimal_wall": round(ref_wall / wall, 1),
        "speedup_vs_decimal_engine_only": round(ref_cpu / min(parts[2][1]), 1),
        "equal_to_decimal": equal,
        "inputs_columns_mb": _columns_mb(inputs),
        "load_average": {"before": load_before,
                         "after": [round(x, 2) for x in os.getloadavg()]},
        "time_method": "CPU time (process_time; wall clock beside it) of Inputs(villages, "
                       "plants) (columns) + compile_period + allocate_compiled from the records "
                       "and EnergyTable the reference gets; best and median of 5. The speedups "
                       "divide the reference's CPU time by these",
        "memory_method": "tracemalloc peak of one end-to-end call (columns, compile, engine; "
                         "numpy buffers included)",
    }
    print(f"{name}: {json.dumps(result)}", flush=True)
    if not equal:
        raise SystemExit(f"{name}: numpy and Decimal results differ")
    return result


def main() -> None:
    wanted = [a for a in sys.argv[1:] if a in SIZES] or list(SIZES)
    load = [round(x, 2) for x in os.getloadavg()]
    results: dict[str, Any] = {name: run_size(name, *SIZES[name]) for name in wanted}
    results["notes"] = (
        f"load average (1, 5, 15 min) {load} at the start of the run, per size in "
        "load_average; the 2-CPU machine is shared with other sessions' work. The numpy side's "
        "time and peak include building Inputs.columns from the records.")
    results["machine"] = {"cpus": os.cpu_count(), "python": sys.version.split()[0],
                          "numpy": np.__version__}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
