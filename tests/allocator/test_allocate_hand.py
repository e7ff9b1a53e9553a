"""Hand-computed allocation: one plant, three villages, a share change on 16 June.

June energy: 100.003 kWh on 06-01 (shares 300/300/300 kW), 200 kWh on 06-16 (450/450/0).
Grid G = 300.003 x 0.3247 = 97.4109741 yuan = 9741.09741 fen -> 9741 (half-up).
  weights: a = b = 100.003 x 0.3247 / 3 + 200 x 0.3247 / 2 = 43.29365803 yuan, c = 10.82365803
  quotas a = b = 4329.3225, c = 1082.3550 -> floors 4329 + 4329 + 1082 = 9740, one leftover
  fen: the largest remainder .3550 is c's -> 4329 / 4329 / 1083.
Subsidy S = 300.003 x 0.4253 = 127.5912759 yuan -> 12759 fen; quotas a = b = 5670.6525,
  c = 1417.6950 -> floors 12757, two leftovers: c (.6950), then a/b tie .6525 -> a (lower id)
  -> 5671 / 5670 / 1418.
Gross a 10000, b 9999, c 2501 = 22500. Land rent 3660 yuan/yr x 30/366 = 300 yuan = 30000 fen
  due > gross: 22500 deducted (all of it, split by gross), 7500 carried into July.
July: 1000 kWh x 0.75 = 75000 fen (32470 + 42530), c's share is 0. Deductions due: 7500 carried
  + 3660 x 31/366 = 31000 -> 38500, split by gross 37500/37500 -> 19250 each; net 18250 each;
  a's usage 60/40 -> 10950 / 7300; b has no usage split.
"""

from __future__ import annotations

from hand_case import YAML, energy_csv

from allocator.energy import EnergyTable
from allocator.energy_csv import parse_energy_csv
from allocator.inputs import parse_inputs
from allocator.model import Inputs
from allocator.periods import parse_period
from allocator.pipeline import allocate_periods
from allocator.reference import allocate_reference
from allocator.result import Allocation


def _run() -> tuple[Inputs, list[EnergyTable], list[Allocation]]:
    inputs = parse_inputs(YAML)
    energies = [parse_energy_csv(energy_csv(m), parse_period(m), ["p"])
                for m in ("2020-06", "2020-07")]
    return inputs, energies, allocate_periods(inputs, energies)


def test_june_grid_and_subsidy_by_hand() -> None:
    _, _, (june, _) = _run()
    assert june.grid_fen.tolist() == [9741]
    assert june.subsidy_fen.tolist() == [12759]
    assert june.grid_part_fen.tolist() == [4329, 4329, 1083]
    assert june.subsidy_part_fen.tolist() == [5671, 5670, 1418]
    assert june.gross_fen.tolist() == [10000, 9999, 2501]
    # energy 300.003 kWh: a = b = 100003/3 + 100000 Wh = 133334.33, c = 33334.33; one Wh left
    # over, remainders tie exactly (1/3 each) -> the lowest id, a
    assert june.energy_wh.tolist() == [133_335, 133_334, 33_334]


def test_deductions_exceeding_gross_are_capped_and_carried_forward() -> None:
    _, _, (june, july) = _run()
    assert june.items_due.tolist() == [[0, 0, 0, 30000, 0, 0]]
    assert june.items_applied.tolist() == [[0, 0, 0, 22500, 0, 0]]
    assert june.deductions_fen.tolist() == [10000, 9999, 2501]
    assert june.net_fen.tolist() == [0, 0, 0]
    assert june.carry_out() == {"p": 7500}
    assert july.items_due.tolist() == [[7500, 0, 0, 31000, 0, 0]]
    assert july.deductions_fen.tolist() == [19250, 19250, 0]
    assert july.net_fen.tolist() == [18250, 18250, 0]
    assert july.carry_out() == {"p": 0}


def test_usage_split_of_the_net_by_hand() -> None:
    _, _, (june, july) = _run()
    # only villages a and c have a usage split (b set it to {})
    assert july.usage_pair.tolist() == [0, 0, 2, 2]
    assert july.usage_fen.tolist() == [10950, 7300, 0, 0]
    assert june.usage_fen.tolist() == [0, 0, 0, 0]


def test_leftover_fen_are_recorded_with_their_remainders() -> None:
    _, _, (june, _) = _run()
    grid, sub = june.marks["grid"], june.marks["subsidy"]
    assert grid.bonus.tolist() == [False, False, True]
    assert sub.bonus.tolist() == [True, False, True]
    assert sub.rank.tolist() == [2, 0, 1]
    assert sub.fraction(0) == sub.fraction(1)  # the a/b tie, broken by the lower id


def test_hand_case_equals_the_reference() -> None:
    inputs, energies, results = _run()
    carry: dict[str, int] = {}
    for energy, result in zip(energies, results, strict=True):
        ref = allocate_reference(inputs, energy.period, energy, carry)
        assert ref.canonical() == result.canonical()
        carry = ref.carry_out()


def test_usage_ties_follow_the_global_column_order_not_the_villages_own() -> None:
    """README: ties go to the category first in the usage column order (first appearance over
    villages sorted by id), so b's tie goes to `jobs` although b lists `collective` first."""
    text = YAML.replace("usage_split: {collective: 60, jobs_and_rewards: 40}\n", "")
    text = text.replace("{id: a, name: 甲村}", "{id: a, name: 甲村, usage_split: {jobs: 1, "
                                               "collective: 1}}")
    text = text.replace("{id: b, name: 乙村, usage_split: {}}",
                        "{id: b, name: 乙村, usage_split: {collective: 1, jobs: 1}}")
    text = text.split("    deductions:")[0]
    inputs = parse_inputs(text)
    period = parse_period("2020-07")
    energy = parse_energy_csv("date,plant_id,kwh\n" + "".join(
        f"{d},p,{1 if d.day == 1 else 0}\n" for d in period.dates()), period, ["p"])
    (result,) = allocate_periods(inputs, [energy])
    # 1 kWh: grid 32 fen (16/16), subsidy 43 fen (22/21, the a/b tie to a); nets 38 and 37
    assert result.net_fen.tolist() == [38, 37, 0]
    assert result.usage_names == ["jobs", "collective"]
    keys = zip(result.usage_pair.tolist(), result.usage_cat.tolist(), strict=True)
    rows = dict(zip(keys, result.usage_fen.tolist(), strict=True))
    assert rows == {(0, 0): 19, (0, 1): 19, (1, 0): 19, (1, 1): 18}
    ref = allocate_reference(inputs, period, energy, {})
    assert ref.canonical() == result.canonical()
