"""Turn validated inputs plus energy into flat integer arrays for one period.

Shares become *pair-segments*: a pair is (plant, village), a segment is a run of days with
one share record in force. National size is ~60,000 pairs x 12 segments, never a dense
days x plants x villages array.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import numpy as np
import numpy.typing as npt

from allocator.energy import EnergyTable
from allocator.errors import InputError
from allocator.model import DeductionRecord, Inputs, Plant
from allocator.periods import Period

I64 = npt.NDArray[np.int64]


@dataclass(frozen=True)
class Compiled:
    period: Period
    plant_ids: list[str]  # sorted
    village_ids: list[str]  # sorted; a village's rank is its index (the tie-break)
    energy_wh: I64  # [P, D]
    grid_u: I64  # [P, D] tariff parts per day
    subsidy_u: I64
    share_basis: I64  # [P]
    capacity_w: I64  # [P]
    shared_w: I64  # [P] poverty portion: villages get energy x shared_w / capacity_w
    seg_plant: I64  # [S] share segments: plant, first day, end day (exclusive)
    seg_start: I64
    seg_end: I64
    pair_plant: I64  # [N] pairs sorted by (plant, village rank)
    pair_village: I64  # village rank
    ps_pair: I64  # [M] pair-segments sorted by pair
    ps_seg: I64
    ps_num: I64  # share numerator over the plant's basis
    ded_plant: I64  # [K] deduction segments
    ded_start: I64
    ded_end: I64
    ded_values: I64  # [K, 5] om_per_kwh_u, om_per_kwp_year_u, land, insurance, reserve_bp
    usage_names: list[str]
    usage_pair: I64  # [U] usage rows sorted by (pair, category), weights per row
    usage_cat: I64
    usage_weight: I64


def _span(records: tuple, period: Period, what: str, plant: Plant, required: bool):
    """(record, first day index, end day index) for each record in force during the period."""
    out = []
    for i, r in enumerate(records):
        nxt = records[i + 1].start if i + 1 < len(records) else period.end
        s, e = max(r.start, period.start), min(nxt, period.end)
        if s < e:
            out.append((r, period.index(s), period.index(e)))
    if required and (not out or out[0][1] > 0):
        first = records[0].start if records else period.end
        last = min(first, period.end) - timedelta(days=1)
        raise InputError(
            f"plant {plant.id}: no {what} in force on {period.start}..{last} "
            f"(first {what} record starts {first if records else 'nowhere'})"
        )
    return out


def _ded_values(r: DeductionRecord) -> tuple[int, ...]:
    return (r.om_per_kwh_u, r.om_per_kwp_year_u, r.land_rent_fen_per_year,
            r.insurance_fen_per_year, r.reserve_bp)


def compile_period(inputs: Inputs, period: Period, energy: EnergyTable) -> Compiled:
    plant_ids = sorted(inputs.plants)
    village_ids = sorted(inputs.villages)
    rank = {v: i for i, v in enumerate(village_ids)}
    n_days = period.days
    grid = np.zeros((len(plant_ids), n_days), dtype=np.int64)
    subsidy = np.zeros_like(grid)
    seg_plant, seg_start, seg_end = [], [], []
    pair_plant, pair_village = [], []
    ps_pair, ps_seg, ps_num = [], [], []
    ded_plant, ded_start, ded_end, ded_values = [], [], [], []
    names = inputs.usage_categories()
    cat = {c: i for i, c in enumerate(names)}
    usage_pair, usage_cat, usage_weight = [], [], []

    for p, pid in enumerate(plant_ids):
        plant = inputs.plants[pid]
        for r, s, e in _span(plant.tariffs, period, "tariff", plant, required=True):
            grid[p, s:e] = r.grid_u
            subsidy[p, s:e] = r.subsidy_u
        for r, s, e in _span(plant.deductions, period, "deduction", plant, required=False):
            ded_plant.append(p), ded_start.append(s), ded_end.append(e)
            ded_values.append(_ded_values(r))
        spans = _span(plant.shares, period, "share", plant, required=True)
        held = [dict(r.numerators) for r, _, _ in spans]
        villages = sorted({v for h in held for v in h}, key=rank.__getitem__)
        first_seg = len(seg_plant)
        segs = range(first_seg, first_seg + len(spans))
        for _, s, e in spans:
            seg_plant.append(p), seg_start.append(s), seg_end.append(e)
        for v in villages:
            pair = len(pair_plant)
            pair_plant.append(p), pair_village.append(rank[v])
            ps_pair.extend([pair] * len(spans))
            ps_seg.extend(segs)
            ps_num.extend([h.get(v, 0) for h in held])
            for c, w in inputs.villages[v].usage_split:
                usage_pair.append(pair), usage_cat.append(cat[c]), usage_weight.append(w)

    def arr(x: list) -> I64:
        return np.asarray(x, dtype=np.int64)

    return Compiled(
        period=period, plant_ids=plant_ids, village_ids=village_ids,
        energy_wh=energy.rows_for(plant_ids), grid_u=grid, subsidy_u=subsidy,
        share_basis=arr([inputs.plants[p].share_basis for p in plant_ids]),
        capacity_w=arr([inputs.plants[p].capacity_w for p in plant_ids]),
        shared_w=arr([inputs.plants[p].shared_w for p in plant_ids]),
        seg_plant=arr(seg_plant), seg_start=arr(seg_start), seg_end=arr(seg_end),
        pair_plant=arr(pair_plant), pair_village=arr(pair_village),
        ps_pair=arr(ps_pair), ps_seg=arr(ps_seg), ps_num=arr(ps_num),
        ded_plant=arr(ded_plant), ded_start=arr(ded_start), ded_end=arr(ded_end),
        ded_values=arr(ded_values).reshape(-1, 5),
        usage_names=names, usage_pair=arr(usage_pair), usage_cat=arr(usage_cat),
        usage_weight=arr(usage_weight),
    )
