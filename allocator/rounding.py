"""Exact rounding: half-up division and the vectorised largest-remainder split.

Works on int64 arrays while products provably fit, and on object arrays of Python ints
otherwise: the exact remainder of a time-weighted share needs about 100 bits.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

I64 = npt.NDArray[np.int64]
INT64_SAFE = 2**62  # leave one bit of head room for sums of two products
_WIDE_DENOM = 2**61  # remainders in [-d, 2d) stay inside int64
_WIDE_QUOTIENT = 2.0**48  # a float quotient estimate below this is off by less than one


def half_up_div_array(num: npt.NDArray, den: int) -> I64:
    """Element-wise half-up division of non-negative int64 (or object) values by ``den``."""
    # np.divmod has no object loop; // and % do
    q, r = num // den, num % den
    return (q + (2 * r >= den)).astype(np.int64)


@dataclass(frozen=True)
class Split:
    """The result of a largest-remainder split: amounts plus what explains each leftover unit."""

    amount: I64  # per item
    bonus: npt.NDArray[np.bool_]  # item received one leftover unit
    remainder: npt.NDArray  # exact remainder numerator (int64 or Python ints)
    denominator: npt.NDArray  # per item: the group's denominator, same dtype as remainder
    rank: npt.NDArray[np.int64]  # 1-based place among its group's leftover units, 0 if none


def _max_abs(a: npt.NDArray) -> int:
    return int(max(a.max(initial=0), -a.min(initial=0))) if a.size else 0


def _divmod_big(prod: npt.NDArray, d: npt.NDArray,
                q_float: npt.NDArray) -> tuple[I64, npt.NDArray]:
    """Exact (prod // d, prod % d) for Python-int arrays, prod >= 0, d > 0.

    // and % on ~100-bit ints cost three times a multiply and a subtract, so the quotient is
    estimated in floats and the remainder checked exactly; the rare estimate that is off (a
    quotient beyond 2^50 or next to an integer) is redone exactly.
    """
    q = np.floor(q_float)
    np.clip(q, 0, 2.0**62, out=q)
    floor = q.astype(np.int64)
    rem = prod - floor.astype(object) * d
    off = np.flatnonzero((rem < 0) | (rem >= d))
    if off.size:
        floor[off] = (prod[off] // d[off]).astype(np.int64)
        rem[off] = prod[off] % d[off]
    return floor, rem


def _divmod_wide(t: I64, w: I64, d: I64, q_float: npt.NDArray) -> tuple[I64, I64]:
    """Exact (t*w // d, t*w % d) in int64 although t*w overflows: 0 <= w, 0 < d < 2^61 and
    the float quotient estimate < 2^48, so it is off by at most one and the true remainder of
    the estimate lies in [-d, 2d), inside int64. Wrapping (mod 2^64) arithmetic then yields it
    exactly; numpy integer arrays wrap silently.
    """
    q = np.floor(q_float).astype(np.int64)
    rem = t * w - q * d  # exact modulo 2^64, and the true value fits
    low, high = rem < 0, rem >= d
    q += high.astype(np.int64) - low
    rem += np.where(low, d, 0) - np.where(high, d, 0)
    return q, rem


def largest_remainder(
    total: npt.NDArray, weight: npt.NDArray, denom: npt.NDArray,
    group: npt.NDArray[np.int64], tiebreak: npt.NDArray[np.int64],
) -> Split:
    """Split ``total[g]`` among items of group g in proportion to ``weight``.

    ``group`` is sorted (items of a group are contiguous), ``sum(weight of g) == denom[g]``.
    Item i gets floor(total*weight/denom) and the group's leftover units go to the largest
    remainders; ties go to the lower ``tiebreak`` (the village's rank by id).
    A group with ``denom == 0`` must have ``total == 0`` and gets zeros.
    """
    n = group.size
    # big: products overflow int64. Object weights (time-weighted, ~100 bits) always do;
    # scanning them for their size would cost as much as the int64 path saves.
    big = (weight.dtype == object or _max_abs(total) * _max_abs(weight) >= INT64_SAFE
           or _max_abs(denom) >= INT64_SAFE)
    # wide: big, but every factor and the denominator fit int64 (the national case): exact
    # int64 arithmetic modulo 2^64 around a float estimate, no Python ints
    wide = (big and weight.dtype != object and np.asarray(total).dtype != object
            and denom.dtype != object and _max_abs(denom) < _WIDE_DENOM)
    dtype = object if big and not wide else np.int64
    # per group first (a tenth of the items), then gathered per item
    zero_g = np.asarray(denom == 0, dtype=bool)
    den_g = np.where(zero_g, 1, denom).astype(dtype)
    t = np.asarray(total).astype(dtype)[group]
    d = den_g[group]
    w = weight.astype(dtype, copy=False)
    zero = zero_g[group]
    if zero.any():
        w = np.where(zero, 0, w).astype(dtype)
    d_float = den_g.astype(np.float64)[group]
    if big:
        t_float = np.asarray(total).astype(np.float64)[group]
        q_float = t_float * w.astype(np.float64) / d_float
        wide = wide and bool(np.abs(q_float).max(initial=0) < _WIDE_QUOTIENT)
    if not big:
        prod = t * w
        floor, rem = prod // d, prod % d
    elif wide:
        floor, rem = _divmod_wide(t, w, d, q_float)
    else:
        t, w, d = (x.astype(object, copy=False) for x in (t, w, d))
        floor, rem = _divmod_big(t * w, d, q_float)

    n_groups = total.size
    starts = np.searchsorted(group, np.arange(n_groups))
    sizes = np.diff(np.append(starts, n))
    floors_sum = np.zeros(n_groups, dtype=np.int64)
    nonempty = sizes > 0
    if n:
        floors_sum[nonempty] = np.add.reduceat(floor, starts[nonempty])
    leftover = np.asarray(total, dtype=object).astype(np.int64) - floors_sum

    # One float key: the group, then the remainder's fraction descending. Float rounding is
    # monotone (non-strict), so the order is right except where two keys are equal at a
    # group's cut: resolved exactly below. A stable sort of items already in (group,
    # tiebreak) order breaks equal keys by tiebreak.
    remf = rem.astype(np.float64) / d_float
    key = group + (1.0 - remf)
    pre = np.arange(n)
    if n > 1 and not ((np.diff(group) > 0) | (np.diff(tiebreak) >= 0)).all():
        pre = np.lexsort((tiebreak, group))
    order = pre[np.argsort(key[pre], kind="stable")]
    g_sorted = group[order]
    pos = np.arange(n) - starts[g_sorted]
    k = leftover[g_sorted]
    bonus_sorted = pos < k
    rank_sorted = np.where(bonus_sorted, pos + 1, 0)

    # groups whose cut falls between two equal floats need an exact comparison
    cut = np.flatnonzero((k > 0) & (pos == k) & (pos > 0))
    ambiguous = cut[key[order[cut]] == key[order[cut - 1]]]
    for i in ambiguous:
        g = g_sorted[i]
        lo, hi = starts[g], starts[g] + sizes[g]
        members = order[lo:hi]
        exact = sorted(members, key=lambda j: (-int(rem[j]), int(tiebreak[j])))
        order[lo:hi] = exact
        bonus_sorted[lo:hi] = np.arange(hi - lo) < leftover[g]
        rank_sorted[lo:hi] = np.where(bonus_sorted[lo:hi], np.arange(hi - lo) + 1, 0)

    bonus = np.empty(n, dtype=bool)
    bonus[order] = bonus_sorted
    rank = np.empty(n, dtype=np.int64)
    rank[order] = rank_sorted
    return Split(floor + bonus, bonus, rem, d, rank)
