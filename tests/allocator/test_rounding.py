"""The vectorised largest-remainder split against a brute-force one, incl. big-int ties."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from allocator.rounding import half_up_div_array, largest_remainder


def _brute(total: int, weights: list[int]) -> list[int]:
    den = sum(weights)
    quotas = [Fraction(total * w, den) for w in weights]
    base = [q.numerator // q.denominator for q in quotas]
    order = sorted(range(len(weights)), key=lambda i: (-(quotas[i] - base[i]), i))
    for i in order[: total - sum(base)]:
        base[i] += 1
    return base


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 10**12),
                          st.lists(st.integers(0, 2**70), min_size=1, max_size=6)),
                min_size=1, max_size=4))
def test_matches_brute_force_on_big_weights(groups: list[tuple[int, list[int]]]) -> None:
    groups = [(t if sum(w) else 0, w) for t, w in groups]
    total = np.array([t for t, _ in groups], dtype=object)
    denom = np.array([sum(w) for _, w in groups], dtype=object)
    weight = np.array([x for _, w in groups for x in w], dtype=object)
    group = np.array([g for g, (_, w) in enumerate(groups) for _ in w], dtype=np.int64)
    tie = np.arange(group.size, dtype=np.int64)
    got = largest_remainder(total, weight, denom, group, tie).amount.tolist()
    want = [x for t, w in groups for x in (_brute(t, w) if sum(w) else [0] * len(w))]
    assert got == want


# 2^70 = 3q + 1: items 0 and 1 get weights a and a + 1 with a = q + 1, item 2 the rest (q - 2),
# so with one fen to hand out the cut falls between items 0 and 1, whose remainders a / 2^70 and
# (a + 1) / 2^70 are the same float; item 2's remainder is clearly smaller.
_DEN = 2**70
_A = _DEN // 3 + 1


def _one_fen_among(weights: list[int], tiebreak: list[int]) -> list[int]:
    split = largest_remainder(np.array([1], dtype=object), np.array(weights, dtype=object),
                              np.array([sum(weights)], dtype=object), np.zeros(3, np.int64),
                              np.array(tiebreak, dtype=np.int64))
    return split.amount.tolist()


@pytest.mark.parametrize("tiebreak", [[0, 1, 2], [1, 0, 2]])
def test_equal_floats_with_different_exact_remainders_are_ordered_exactly(
        tiebreak: list[int]) -> None:
    # the exactly larger remainder (item 1) wins, whichever item has the lower tie-break rank
    weights = [_A, _A + 1, _DEN - 2 * _A - 1]
    assert float(Fraction(weights[0], _DEN)) == float(Fraction(weights[1], _DEN))
    assert weights[2] < weights[0]
    assert _one_fen_among(weights, tiebreak) == [0, 1, 0]


@pytest.mark.parametrize(("tiebreak", "want"), [([0, 1, 2], [1, 0, 0]),
                                                ([1, 0, 2], [0, 1, 0])])
def test_exact_big_int_ties_go_to_the_lower_rank(tiebreak: list[int], want: list[int]) -> None:
    # the same cut with remainders exactly equal: the lower tie-break rank wins
    weights = [_A, _A, _DEN - 2 * _A]
    assert weights[2] < weights[0]
    assert _one_fen_among(weights, tiebreak) == want


def test_exact_ties_go_to_the_lower_rank() -> None:
    split = largest_remainder(np.array([2], np.int64), np.array([1, 1, 1], np.int64),
                              np.array([3], np.int64), np.zeros(3, np.int64),
                              np.array([2, 0, 1], np.int64))
    assert split.amount.tolist() == [0, 1, 1]
    assert split.rank.tolist() == [0, 1, 2]


def test_half_up() -> None:
    assert half_up_div_array(np.array([4, 5, 6, 15, 25]), 10).tolist() == [0, 1, 1, 2, 3]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 2**40),
                          st.lists(st.integers(0, 2**58), min_size=1, max_size=6)),
                min_size=1, max_size=4))
def test_int64_weights_whose_products_overflow_match_brute_force(
        groups: list[tuple[int, list[int]]]) -> None:
    # total x weight needs ~100 bits but every factor fits int64: the wrapping int64 path
    groups = [(t if sum(w) else 0, w) for t, w in groups]
    total = np.array([t for t, _ in groups], dtype=np.int64)
    denom = np.array([sum(w) for _, w in groups], dtype=np.int64)
    weight = np.array([x for _, w in groups for x in w], dtype=np.int64)
    group = np.array([g for g, (_, w) in enumerate(groups) for _ in w], dtype=np.int64)
    tie = np.arange(group.size, dtype=np.int64)
    split = largest_remainder(total, weight, denom, group, tie)
    want = [x for t, w in groups for x in (_brute(t, w) if sum(w) else [0] * len(w))]
    assert split.amount.tolist() == want
    for i in range(group.size):  # the exact remainder behind each amount
        t, d = int(total[group[i]]), int(denom[group[i]]) or 1
        w = int(weight[i]) if int(denom[group[i]]) else 0
        assert int(split.amount[i] - split.bonus[i]) == t * w // d
        assert int(split.remainder[i]) == t * w % d
