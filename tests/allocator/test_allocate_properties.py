"""Properties of the exact allocation, on hypothesis-generated plants, shares and energy."""

from __future__ import annotations

import random
from dataclasses import replace
from fractions import Fraction

import numpy as np
from alloc_strategies import scenarios
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from allocator.energy import EnergyTable
from allocator.model import FEN_PER_WH_U, Inputs, ShareRecord, record_in_force
from allocator.periods import Period
from allocator.pipeline import allocate
from allocator.reference import allocate_reference
from allocator.result import Allocation

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios(), st.integers(0, 10**6))
def test_numpy_engine_equals_decimal_reference(case: tuple[Inputs, EnergyTable],
                                               carry: int) -> None:
    inputs, energy = case
    carry_in = {"p0": carry}
    fast = allocate(inputs, energy.period, energy, carry_in)
    slow = allocate_reference(inputs, energy.period, energy, carry_in)
    assert fast.canonical() == slow.canonical()


def _per_plant(a: Allocation, values: np.ndarray) -> np.ndarray:
    return np.array([int(values[a.pair_plant == p].sum()) for p in range(len(a.plant_ids))])


@FAST
@given(scenarios(), st.integers(0, 10**7))
def test_village_amounts_add_up_and_nothing_is_negative(case: tuple[Inputs, EnergyTable],
                                                        carry: int) -> None:
    inputs, energy = case
    a = allocate(inputs, energy.period, energy, {"p0": carry})
    assert (_per_plant(a, a.grid_part_fen) == a.grid_fen).all()
    assert (_per_plant(a, a.subsidy_part_fen) == a.subsidy_fen).all()
    assert (_per_plant(a, a.deductions_fen) == a.plant_deductions_fen).all()
    assert (_per_plant(a, a.energy_wh) == a.plant_energy_wh).all()
    assert (a.plant_deductions_fen <= a.plant_gross_fen).all()
    assert (a.carry_out_fen == a.items_due.sum(axis=1) - a.plant_deductions_fen).all()
    for arr in (a.grid_part_fen, a.subsidy_part_fen, a.deductions_fen, a.net_fen, a.usage_fen,
                a.energy_wh, a.items_applied, a.carry_out_fen):
        assert (arr >= 0).all()
    for pair in np.unique(a.usage_pair):
        assert a.usage_fen[a.usage_pair == pair].sum() == a.net_fen[pair]


@FAST
@given(scenarios(), st.randoms(use_true_random=False))
def test_reordering_input_rows_changes_nothing(case: tuple[Inputs, EnergyTable],
                                               rnd: random.Random) -> None:
    inputs, energy = case
    plants = list(inputs.plants.items())
    rnd.shuffle(plants)
    shuffled_plants = {}
    for pid, plant in plants:
        shares = tuple(
            ShareRecord.of(r.start, rnd.sample(r.numerators, len(r.numerators)))
            for r in plant.shares
        )
        shuffled_plants[pid] = replace(plant, shares=shares)
    villages = list(inputs.villages.items())
    rnd.shuffle(villages)
    order = list(range(len(energy.plant_ids)))
    rnd.shuffle(order)
    energy2 = EnergyTable(energy.period, tuple(energy.plant_ids[i] for i in order),
                          energy.wh[order])
    inputs2 = Inputs(dict(villages), shuffled_plants)
    a = allocate(inputs, energy.period, energy)
    b = allocate(inputs2, energy.period, energy2)
    assert a.canonical() == b.canonical()


@FAST
@given(scenarios())
def test_a_village_with_zero_share_gets_zero(case: tuple[Inputs, EnergyTable]) -> None:
    inputs, energy = case
    a = allocate(inputs, energy.period, energy)
    for i in range(a.pair_plant.size):
        plant = inputs.plants[a.plant_ids[a.pair_plant[i]]]
        vid = a.village_ids[a.pair_village[i]]
        held = any(dict(r.numerators).get(vid, 0) for r in plant.shares)
        if not held:
            assert a.energy_wh[i] == a.gross_fen[i] == a.deductions_fen[i] == a.net_fen[i] == 0
            assert a.usage_fen[a.usage_pair == i].sum() == 0


def _exact_village_fen(inputs: Inputs, energy: EnergyTable, part: str) -> dict:
    """Exact (unrounded) time-weighted revenue per (plant, village) in fen, as Fractions."""
    out: dict[tuple[str, str], Fraction] = {}
    for p, pid in enumerate(energy.plant_ids):
        plant = inputs.plants[pid]
        for d, day in enumerate(energy.period.dates()):
            t = record_in_force(plant.tariffs, day)
            rate = t.grid_u if part == "grid" else t.subsidy_u
            value = Fraction(int(energy.wh[p, d]) * rate * plant.shared_w,
                             FEN_PER_WH_U * plant.capacity_w)
            for v, n in record_in_force(plant.shares, day).numerators:
                key = (pid, v)
                out[key] = out.get(key, Fraction(0)) + value * Fraction(n, plant.share_basis)
    return out


def _amounts(a: Allocation, part: str) -> dict[tuple[str, str], int]:
    values = a.grid_part_fen if part == "grid" else a.subsidy_part_fen
    return {(a.plant_ids[a.pair_plant[i]], a.village_ids[a.pair_village[i]]): int(values[i])
            for i in range(values.size)}


@FAST
@given(scenarios(deductions=False, usage=False, max_plants=2), st.data())
def test_a_share_change_on_day_k_equals_two_runs_split_at_k_within_rounding(
        case: tuple[Inputs, EnergyTable], data: st.DataObject) -> None:
    """One run over a period vs. two runs split at a day k.

    "Within the rounding rule" means, per plant, village and part (grid, subsidy):
    (1) each run gives every village its exact time-weighted revenue e to less than
        1 + s/2 fen, s being its weight share (the plant total is off by <= 1/2 fen, which the
        split passes on pro rata, and the largest-remainder split adds < 1 fen);
    (2) the exact revenues of the two halves add up to the exact revenue of the whole;
    (3) hence one run and the sum of the two differ by at most 4 fen per village and part,
        and the plant totals by at most 1 fen per part (two half-up roundings instead of one).
    """
    inputs, energy = case
    period = energy.period
    if period.days < 2:
        return
    k = data.draw(st.integers(1, period.days - 1))
    day = period.dates()[k]
    first, second = Period(period.start, day, "a"), Period(day, period.end, "b")
    e1 = EnergyTable(first, energy.plant_ids, energy.wh[:, :k])
    e2 = EnergyTable(second, energy.plant_ids, energy.wh[:, k:])
    whole, a1, a2 = (allocate(inputs, e.period, e) for e in (energy, e1, e2))
    for part in ("grid", "subsidy"):
        exact = _exact_village_fen(inputs, energy, part)
        x1, x2 = _exact_village_fen(inputs, e1, part), _exact_village_fen(inputs, e2, part)
        for key, value in exact.items():
            assert x1.get(key, 0) + x2.get(key, 0) == value  # (2)
        for run, ex in ((whole, exact), (a1, x1), (a2, x2)):
            totals: dict[str, Fraction] = {}
            for (pid, _), v in ex.items():
                totals[pid] = totals.get(pid, Fraction(0)) + v
            for key, amount in _amounts(run, part).items():
                s = ex[key] / totals[key[0]] if totals[key[0]] else Fraction(0)
                assert abs(amount - ex[key]) < 1 + s / 2  # (1)
        m, m1, m2 = _amounts(whole, part), _amounts(a1, part), _amounts(a2, part)
        for key, amount in m.items():
            assert abs(amount - m1.get(key, 0) - m2.get(key, 0)) <= 4  # (3)
        fen = whole.grid_fen if part == "grid" else whole.subsidy_fen
        fen1 = a1.grid_fen if part == "grid" else a1.subsidy_fen
        fen2 = a2.grid_fen if part == "grid" else a2.subsidy_fen
        assert (abs(fen - fen1 - fen2) <= 1).all()
