"""The numpy allocation engine: exact integer arithmetic, vectorised over pair-segments.

Bounds (checked, BoundsError otherwise): per plant, sum over the period of
Wh x (grid_u + subsidy_u) < 2^62, i.e. with a 1 yuan/kWh tariff about 46 TWh a year -- four
orders of magnitude above the largest plant. Share numerators < 2^32 (4.29 GW of shared
capacity in W). Products beyond int64 (time-weighted remainders need ~100 bits) are formed
from 21-bit limbs in int64 and finished as Python ints per pair, never per day.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import numpy.typing as npt

from allocator.compile import Compiled
from allocator.errors import BoundsError
from allocator.model import FEN_PER_WH_U, MAX_FEN
from allocator.result import Allocation, LeftoverMark
from allocator.rounding import INT64_SAFE, Split, half_up_div_array, largest_remainder

I64 = npt.NDArray[np.int64]
_LIMB = 21
_MASK = (1 << _LIMB) - 1


def _range_sums(x: I64, plant: I64, start: I64, end: I64) -> I64:
    """Sum of x[plant, start:end] for non-empty ranges sorted by (plant, start), no copy of x."""
    if plant.size == 0:
        return np.zeros(0, dtype=np.int64)
    flat = x.ravel()
    days = x.shape[1]
    bounds = np.empty(2 * plant.size, dtype=np.int64)
    bounds[0::2] = plant * days + start
    bounds[1::2] = plant * days + end
    if bounds[-1] == flat.size:  # not a valid index; the last range then runs to the end
        bounds = bounds[:-1]
    return np.add.reduceat(flat, bounds)[0::2]


def _segmented_dot(seg_value: I64, c: Compiled) -> npt.NDArray:
    """Per pair: sum over its segments of seg_value x share numerator, exactly.

    seg_value < 2^62 splits into three 21-bit limbs; limb x numerator < 2^53, and at most 366
    segments per pair keep every limb sum below 2^62. The carries are propagated in int64;
    the sum stays int64 when it fits (then the splits need no Python ints at all), else only
    two limbs (above and below bit 42) become Python ints.
    """
    if c.ps_pair.size == 0:
        return np.zeros(0, dtype=object)
    v = seg_value[c.ps_seg]
    starts = np.flatnonzero(np.r_[True, c.ps_pair[1:] != c.ps_pair[:-1]])
    hi, mid, lo = (np.add.reduceat(((v >> s) & _MASK) * c.ps_num, starts)
                   for s in (2 * _LIMB, _LIMB, 0))
    mid += lo >> _LIMB  # < 2^62 + 2^41
    hi += mid >> _LIMB
    low = ((mid & _MASK) << _LIMB) | (lo & _MASK)  # < 2^42
    if hi.max(initial=0) < 2**20:  # the sum fits int64 (national size: about 2^53)
        return (hi << (2 * _LIMB)) | low
    return (hi.astype(object) << (2 * _LIMB)) + low.astype(object)


def _exact_product(a: I64, b: I64) -> npt.NDArray:
    """a x b per element: int64 when the largest product provably fits, else Python ints."""
    if int(a.max(initial=0)) * int(b.max(initial=0)) < INT64_SAFE and (a >= 0).all() \
            and (b >= 0).all():
        return a * b
    return a.astype(object) * b.astype(object)


def _split(total: npt.NDArray, seg_value: I64, plant_total_exact: I64, c: Compiled) -> Split:
    """Split a per-plant total among its pairs by time-weighted shares of ``seg_value``."""
    weight = _segmented_dot(seg_value, c)
    denom = _exact_product(plant_total_exact, c.share_basis)
    return largest_remainder(total, weight, denom, c.pair_plant, c.pair_village)


def _mark(s: Split) -> LeftoverMark:
    return LeftoverMark(s.bonus, s.rank, s.remainder, s.denominator)


def _flat_tariffs(c: Compiled) -> tuple[I64, I64] | None:
    """Each plant's (grid, subsidy) parts when neither changes during the period, else None.

    The usual case (tariffs are fixed for years) needs no Wh x tariff day arrays: a sum of
    energy x a constant is the constant x the sum of energy.
    """
    g, s = c.grid_u[:, :1], c.subsidy_u[:, :1]
    if c.grid_u.strides[1] == c.subsidy_u.strides[1] == 0:  # compile's one-record broadcast
        return g[:, 0], s[:, 0]
    if (c.grid_u == g).all() and (c.subsidy_u == s).all():
        return g[:, 0], s[:, 0]
    return None


def _check_bounds(c: Compiled, flat: tuple[I64, I64] | None, source: str) -> None:
    days = max(c.period.days, 1)
    tariff = (flat[0] + flat[1]) if flat is not None else c.grid_u + c.subsidy_u
    top = int(c.energy_wh.max(initial=0)) * int(tariff.max(initial=0)) * days
    if top >= INT64_SAFE:
        p, d = np.unravel_index(int(np.argmax(c.energy_wh)), c.energy_wh.shape)
        kwh = int(c.energy_wh[p, d]) / 1000
        raise BoundsError(
            f"{source or 'energy'}: plant {c.plant_ids[p]} on {c.period.dates()[d]}: "
            f"{kwh:,.3f} kWh is too large for the exact computation: energy x tariff over "
            f"{c.period.label} may reach {top} >= 2^62 (the plant could not produce that: check "
            f"the energy data)")
    if int(c.share_basis.max(initial=0)) >= 2**32:
        raise BoundsError("a plant's share basis is 2^32 or more (4.29 GW in W)")


def _no_deductions(carry_in: I64) -> I64:
    due = np.zeros((carry_in.size, 6), dtype=np.int64)
    due[:, 0] = carry_in
    return due


def _per_plant_sum(p: I64, factors: list[I64], n_plants: int, per_plant_max: int) -> npt.NDArray:
    """Per plant, the sum over its deduction segments of the product of ``factors`` (all >= 0),
    exactly: in int64 when the largest possible sum fits, else in Python ints."""
    top = per_plant_max
    for f in factors:
        top *= int(f.max(initial=0))
    if top < INT64_SAFE:
        num = factors[0].copy()
        for f in factors[1:]:
            num *= f
        out = np.zeros(n_plants, dtype=np.int64)
    else:
        num = factors[0].astype(object)
        for f in factors[1:]:
            num = num * f.astype(object)
        out = np.zeros(n_plants, dtype=object)
    np.add.at(out, p, num)
    return out


def _deductions_due(c: Compiled, ded_wh: I64, ded_rev: I64, carry_in: I64) -> I64:
    """[P, 6] amounts due in fen, in DEDUCTION_ITEMS order; each item rounded half-up once.

    ``ded_wh`` and ``ded_rev`` are the energy and the exact revenue (Wh x u) of each
    deduction segment. Exact numerators over a denominator per item, in int64 where the
    bound allows (the usual case), else Python ints.
    """
    n_plants = len(c.plant_ids)
    due = _no_deductions(carry_in)
    p = c.ded_plant
    vals, days = c.ded_values, c.ded_end - c.ded_start
    diy = c.period.days_in_year
    shared, cap = c.shared_w[p], c.capacity_w
    most = int(np.bincount(p, minlength=n_plants).max(initial=0))
    items = [  # (factors per segment, denominator) -> fen
        ([vals[:, 0], ded_wh, shared], FEN_PER_WH_U * cap),  # u/kWh x Wh x shared/cap
        ([vals[:, 1], shared, days], FEN_PER_WH_U * diy),  # u/kWp-yr x W x days/diy
        ([vals[:, 2], days], diy),  # fen/yr x days/diy
        ([vals[:, 3], days], diy),
        ([vals[:, 4], ded_rev, shared], FEN_PER_WH_U * 10_000 * cap),  # bp x 1e-5 fen
    ]
    for k, (factors, den) in enumerate(items, start=1):
        num = _per_plant_sum(p, factors, n_plants, most)
        if num.dtype == object or int(np.max(den, initial=0)) >= INT64_SAFE // 2:
            due[:, k] = _half_up_objects(num.astype(object), np.asarray(den).astype(object))
        else:
            due[:, k] = half_up_div_array(num, den)
    return due


def _half_up_objects(num: npt.NDArray, den: npt.NDArray | int) -> I64:
    """Half-up num / den for Python-int arrays (den per element or scalar)."""
    q, r = num // den, num % den
    return (q + (2 * r >= den)).astype(np.int64)


def _apply_cap(due: I64, gross: I64) -> I64:
    """Take items in order while the gross lasts; the rest is carried forward."""
    applied = np.zeros_like(due)
    left = gross.copy()
    for k in range(due.shape[1]):
        applied[:, k] = np.minimum(due[:, k], left)
        left -= applied[:, k]
    return applied


def allocate_compiled(c: Compiled, carry_in: Mapping[str, int] | None = None,
                      source: str = "") -> Allocation:
    """The allocation; ``source`` (the energy's file or database) names where a too large
    energy came from."""
    flat = _flat_tariffs(c)
    _check_bounds(c, flat, source)
    e = c.energy_wh
    sp, ss, se = c.seg_plant, c.seg_start, c.seg_end
    dp, ds, de = c.ded_plant, c.ded_start, c.ded_end
    seg_e, ded_wh = _range_sums(e, sp, ss, se), _range_sums(e, dp, ds, de)
    # exact: Wh x u, bounded by _check_bounds
    if flat is not None:
        seg_g, seg_s = seg_e * flat[0][sp], seg_e * flat[1][sp]
        ded_rev = ded_wh * (flat[0] + flat[1])[dp]
    else:
        eg, es = e * c.grid_u, e * c.subsidy_u
        seg_g, seg_s = _range_sums(eg, sp, ss, se), _range_sums(es, sp, ss, se)
        ded_rev = _range_sums(eg, dp, ds, de) + _range_sums(es, dp, ds, de)
    # share segments tile each plant's days, so plant totals are sums of its segments
    first = np.flatnonzero(np.r_[True, sp[1:] != sp[:-1]])  # every plant has a segment
    g_exact, s_exact, e_total = (np.add.reduceat(x, first) for x in (seg_g, seg_s, seg_e))
    if (c.shared_w == c.capacity_w).all():
        g_fen = half_up_div_array(g_exact, FEN_PER_WH_U)
        s_fen = half_up_div_array(s_exact, FEN_PER_WH_U)
        e_portion = e_total
    else:  # some plant distributes only its poverty portion shared_w / capacity_w
        shared, cap = c.shared_w.astype(object), c.capacity_w.astype(object)
        g_fen = _half_up_objects(g_exact.astype(object) * shared, cap * FEN_PER_WH_U)
        s_fen = _half_up_objects(s_exact.astype(object) * shared, cap * FEN_PER_WH_U)
        e_portion = _half_up_objects(e_total.astype(object) * shared, cap)

    energy_w = _segmented_dot(seg_e, c)
    energy_d = _exact_product(e_total, c.share_basis)
    energy = largest_remainder(e_portion, energy_w, energy_d, c.pair_plant, c.pair_village)
    if flat is not None:
        # seg_g = grid part x seg_e per plant: the same fractions as the energy split (the
        # marks' remainder / denominator differ only by that common factor)
        grid, subsidy = (largest_remainder(total, energy_w, energy_d, c.pair_plant,
                                           c.pair_village) for total in (g_fen, s_fen))
    else:
        grid = _split(g_fen, seg_g, g_exact, c)
        subsidy = _split(s_fen, seg_s, s_exact, c)

    carry = np.zeros(len(c.plant_ids), dtype=np.int64)
    if carry_in:  # a dict lookup per plant is 10 ms at national size: only when there is one
        values = [int(carry_in.get(p, 0)) for p in c.plant_ids]
        bad = [(p, v) for p, v in zip(c.plant_ids, values, strict=True) if not 0 <= v <= MAX_FEN]
        if bad:
            raise BoundsError(f"plant {bad[0][0]}: carried-in {bad[0][1]} fen is outside "
                              f"0..{MAX_FEN} fen")
        carry[:] = values
    due = _deductions_due(c, ded_wh, ded_rev, carry) if dp.size else _no_deductions(carry)
    gross_plant = g_fen + s_fen
    applied = _apply_cap(due, gross_plant)
    gross_pair = grid.amount + subsidy.amount
    ded = largest_remainder(applied.sum(axis=1), gross_pair, gross_plant,
                            c.pair_plant, c.pair_village)
    marks = {"grid": _mark(grid), "subsidy": _mark(subsidy), "deductions": _mark(ded)}

    usage_fen = np.zeros(0, dtype=np.int64)
    if c.usage_pair.size:
        # groups are the pairs that have a usage split, numbered 0..G-1 in pair order
        pairs, group = np.unique(c.usage_pair, return_inverse=True)
        net = (gross_pair - ded.amount)[pairs]
        wsum = np.zeros(pairs.size, dtype=np.int64)
        np.add.at(wsum, group, c.usage_weight)
        order = np.argsort(group, kind="stable")
        split = largest_remainder(net, c.usage_weight[order], wsum, group[order],
                                  c.usage_cat[order])
        inverse = np.empty_like(order)
        inverse[order] = np.arange(order.size)
        usage_fen = split.amount[inverse]
        marks["usage"] = LeftoverMark(split.bonus[inverse], split.rank[inverse],
                                      split.remainder[inverse], split.denominator[inverse])

    return Allocation(
        period=c.period, plant_ids=c.plant_ids, village_ids=c.village_ids,
        plant_energy_wh=e_portion, grid_exact=g_exact, subsidy_exact=s_exact,
        grid_fen=g_fen, subsidy_fen=s_fen, items_due=due, items_applied=applied,
        pair_plant=c.pair_plant, pair_village=c.pair_village, energy_wh=energy.amount,
        grid_part_fen=grid.amount, subsidy_part_fen=subsidy.amount, deductions_fen=ded.amount,
        usage_names=c.usage_names, usage_pair=c.usage_pair, usage_cat=c.usage_cat,
        usage_fen=usage_fen, marks=marks,
    )
