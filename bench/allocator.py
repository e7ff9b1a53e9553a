"""Allocation benchmark: numpy path vs. the Decimal reference, same inputs, same run.

Sizes (a year of daily energy, every plant's shares change on the 1st of every month):
  qinghai   1,622 villages,    500 plants
  national 60,000 villages, 10,000 plants

Both sides start from the same ``Inputs`` objects and ``EnergyTable`` and end with an
``Allocation``. For numpy that is ``compile_period`` (the period's segments, pairs and
pair-segments from ``Inputs.columns``) plus ``allocate_compiled`` (the engine); both are timed,
together and apart. ``Inputs.columns`` (the records as flat arrays, village ids replaced by
their rank) is built when the ``Inputs`` is constructed, like the record tuples the reference
reads and the YAML parse neither side is timed for; ``inputs_build_seconds`` and
``inputs_columns_mb`` report what that construction costs, outside the comparison.

Time: wall clock (perf_counter), five end-to-end runs: ``seconds`` is the best,
``seconds_median`` the median (the first run pays page faults for fresh buffers);
``compile_seconds`` and ``engine_seconds`` are the best of each part over the same runs.
``speedup_vs_decimal`` = ``decimal_seconds`` / ``seconds`` (end to end);
``speedup_vs_decimal_engine_only`` divides by the engine alone and is not the headline.
The Decimal reference runs once, in full unless PVRELIEF_BENCH_REF_PLANTS asks for a linear
extrapolation (only worth it should it ever take minutes).
Memory: tracemalloc peak of one end-to-end call (numpy reports its buffers to tracemalloc),
in a separate traced run so tracing does not slow the timed ones. Results must be equal
(canonical form) or it fails. ``load_average`` is os.getloadavg() (1, 5, 15 min) before and
after each size: the machine is shared.
"""

from __future__ import annotations

import gc
import json
import os
import sys
import time
import tracemalloc
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
    villages = {f"v{i:05d}": Village(f"v{i:05d}", f"村{i}", USAGE) for i in range(n_villages)}
    owner = np.concatenate([np.arange(n_plants), rng.integers(0, n_plants, n_villages - n_plants)])
    rng.shuffle(owner)
    members: list[list[str]] = [[] for _ in range(n_plants)]
    for v, p in enumerate(owner):
        members[p].append(f"v{v:05d}")
    months = [date(year, m, 1) for m in range(1, 13)]
    tariffs = (TariffRecord(date(2016, 1, 1), 3247, 4253),)
    plants = {}
    for p in range(n_plants):
        vs = members[p]
        capacity = 290_000 * len(vs)
        shares = []
        for m in months:
            cuts = np.sort(rng.integers(0, capacity + 1, len(vs) - 1))
            parts = np.diff(np.concatenate([[0], cuts, [capacity]]))
            shares.append(ShareRecord(m, tuple(zip(vs, map(int, parts), strict=True))))
        deductions = (DeductionRecord(date(2020, 1, 1), 100, 300_000, 2_000_000, 500_000, 200),)
        kind = "village" if len(vs) == 1 else "multi-village"
        plants[f"p{p:05d}"] = Plant(f"p{p:05d}", f"电站{p}", kind, capacity, f"m{p}", capacity,
                                    tuple(shares), tariffs, deductions)
    caps = np.array([plants[f"p{p:05d}"].capacity_w for p in range(n_plants)])
    wh = (rng.random((n_plants, period.days)) * caps[:, None] * 6).astype(np.int64)
    energy = EnergyTable(period, tuple(plants), wh)
    return Inputs(villages, plants), period, energy


def _timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    gc.collect()
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def _peak_mb(fn: Callable[[], Any]) -> float:
    gc.collect()
    tracemalloc.start()
    tracemalloc.reset_peak()
    fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return round(peak / 2**20, 1)


def _end_to_end(inputs: Inputs, period: Period, energy: EnergyTable) -> tuple[Any, float, float]:
    """One numpy run from the inputs: (allocation, compile seconds, engine seconds)."""
    gc.collect()
    t0 = time.perf_counter()
    compiled = compile_period(inputs, period, energy)
    t1 = time.perf_counter()
    out = allocate_compiled(compiled)
    return out, t1 - t0, time.perf_counter() - t1


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
    # untimed in the comparison: constructing the Inputs (read-only mappings + columns) again
    _, build_s = _timed(lambda: Inputs(inputs.villages, inputs.plants))
    runs = [_end_to_end(inputs, period, energy) for _ in range(5)]
    fast = runs[-1][0]
    compile_runs = [r[1] for r in runs]
    engine_runs = [r[2] for r in runs]
    total_runs = [c + e for c, e in zip(compile_runs, engine_runs, strict=True)]
    peak = _peak_mb(lambda: allocate_compiled(compile_period(inputs, period, energy)))

    sample = min(REF_SAMPLE, n_plants) if REF_SAMPLE else n_plants
    ref_inputs = inputs
    if sample < n_plants:  # the first `sample` plants by id, extrapolated linearly
        keep = sorted(inputs.plants)[:sample]
        ref_inputs = Inputs(inputs.villages, {p: inputs.plants[p] for p in keep})
    slow, ref_s = _timed(lambda: allocate_reference(ref_inputs, period, energy))
    if sample < n_plants:
        sub = allocate_compiled(compile_period(ref_inputs, period, energy))
        equal = sub.canonical() == slow.canonical()
        ref_full_s = ref_s * n_plants / sample
    else:
        equal = fast.canonical() == slow.canonical()
        ref_full_s = ref_s
    small = Inputs(inputs.villages, {p: inputs.plants[p] for p in sorted(inputs.plants)[:50]})
    ref_peak = _peak_mb(lambda: allocate_reference(small, period, energy))
    seconds, median = min(total_runs), sorted(total_runs)[len(total_runs) // 2]
    engine = min(engine_runs)
    shape = compile_period(inputs, period, energy)  # untimed: only for the sizes below
    result = {
        "villages": n_villages, "plants": n_plants, "days": period.days,
        "pairs": int(shape.pair_plant.size), "pair_segments": int(shape.ps_pair.size),
        "seconds": round(seconds, 4), "seconds_median": round(median, 4),
        "seconds_runs": [round(r, 4) for r in total_runs],
        "compile_seconds": round(min(compile_runs), 4),
        "engine_seconds": round(engine, 4),
        "compile_seconds_runs": [round(r, 4) for r in compile_runs],
        "engine_seconds_runs": [round(r, 4) for r in engine_runs],
        "peak_mb": peak,
        "decimal_seconds": round(ref_full_s, 2),
        "decimal_measured_plants": sample,
        "decimal_extrapolated": sample < n_plants,
        "decimal_peak_mb_per_50_plants": ref_peak,
        "speedup_vs_decimal": round(ref_full_s / seconds, 1),
        "speedup_vs_decimal_median": round(ref_full_s / median, 1),
        "speedup_vs_decimal_engine_only": round(ref_full_s / engine, 1),
        "equal_to_decimal": equal,
        "inputs_build_seconds": round(build_s, 3),
        "inputs_columns_mb": _columns_mb(inputs),
        "load_average": {"before": load_before,
                         "after": [round(x, 2) for x in os.getloadavg()]},
        "time_method": "wall clock of compile_period + allocate_compiled from the same Inputs "
                       "and EnergyTable the reference gets; best and median of 5. Inputs "
                       "construction (incl. its columnar arrays, inputs_build_seconds) is "
                       "timed for neither side",
        "memory_method": "tracemalloc peak of one end-to-end call (numpy buffers included)",
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
        "load_average; the 2-CPU machine is shared with other sessions' work. Share records "
        "reach compile_period as Inputs.columns (flat int64 arrays built with the Inputs).")
    results["machine"] = {"cpus": os.cpu_count(), "python": sys.version.split()[0],
                          "numpy": np.__version__}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
