"""A year of the Gonghe example: the centralised plant re-splits on 16 July (mid-month)."""

from __future__ import annotations

import math
from datetime import date, timedelta
from pathlib import Path

import numpy as np

from allocator.energy import EnergyTable
from allocator.inputs import load_inputs
from allocator.periods import parse_period
from allocator.pipeline import allocate
from allocator.reference import allocate_reference

EXAMPLE = Path(__file__).resolve().parents[2] / "config/examples/allocation-gonghe.yaml"
KWP = {"gonghe-central": 20_000, "village-a": 300, "village-b": 300}


def year_energy(year: int = 2020) -> EnergyTable:
    period = parse_period(str(year))
    rows = []
    for plant in sorted(KWP):
        rows.append([round(KWP[plant] * 4600 * (1 + 0.25 * math.cos((i - 172) / 58.25))
                           * (0.6 if i % 7 == 3 else 1.0)) for i in range(period.days)])
    return EnergyTable(period, tuple(sorted(KWP)), np.array(rows, dtype=np.int64))


def _slice(energy: EnergyTable, month: str) -> EnergyTable:
    period = parse_period(month)
    a, b = energy.period.index(period.start), energy.period.index(period.end)
    return EnergyTable(period, energy.plant_ids, energy.wh[:, a:b])


def test_year_with_a_mid_month_share_change_equals_reference() -> None:
    inputs, energy = load_inputs(EXAMPLE), year_energy()
    result = allocate(inputs, energy.period, energy)
    assert result.canonical() == allocate_reference(inputs, energy.period, energy).canonical()
    # the tenth village holds 261 of 2,610 shared kW from 16 July only
    central = result.plant_ids.index("gonghe-central")
    late = energy.wh[central, energy.period.index(date(2020, 7, 16)):].sum()
    tiegai = result.village_ids.index("tiegai-10")
    row = np.flatnonzero((result.pair_plant == central) & (result.pair_village == tiegai))[0]
    exact_wh = late * 2_610 / 20_000 / 10  # poverty portion, then 1/10
    assert abs(result.energy_wh[row] - exact_wh) < 1


def test_july_splits_at_the_16th_and_months_add_up_to_the_year_within_rounding() -> None:
    inputs, energy = load_inputs(EXAMPLE), year_energy()
    year = allocate(inputs, energy.period, energy)
    months = [allocate(inputs, parse_period(f"2020-{m:02d}"), _slice(energy, f"2020-{m:02d}"))
              for m in range(1, 13)]
    july = months[6]
    tiegai = july.village_ids.index("tiegai-10")
    assert (months[5].pair_village != tiegai).all()  # not a shareholder before July
    # README: O&M 30 yuan/kWp-year on the shared 2,610 kWp, 31 of 366 days = 6631.97 yuan
    central = july.plant_ids.index("gonghe-central")
    assert july.items_due[central].tolist()[2] == 663197
    # in July, tiegai-10 has 16 of 31 days at 261/2610; the others 15 days at 290, 16 at 261
    t_row = np.flatnonzero(july.pair_village == tiegai)[0]
    other = np.flatnonzero(july.pair_village == july.village_ids.index("chabuqia-01"))[0]
    assert july.gross_fen[t_row] < july.gross_fen[other] / 1.8
    # twelve monthly roundings vs one yearly: per village and part at most 4 fen per split
    # boundary (see test_allocate_properties), so at most 4 x 11 fen
    for part in ("grid_part_fen", "subsidy_part_fen"):
        total: dict[tuple[int, str], int] = {}
        for m in months:
            for i in range(m.pair_plant.size):
                key = (int(m.pair_plant[i]), m.village_ids[m.pair_village[i]])
                total[key] = total.get(key, 0) + int(getattr(m, part)[i])
        for i in range(year.pair_plant.size):
            key = (int(year.pair_plant[i]), year.village_ids[year.pair_village[i]])
            assert abs(int(getattr(year, part)[i]) - total[key]) <= 44
    # plant totals: each half-up rounding is off by <= 1/2 fen, so 12 months vs 1 year <= 6.5
    for part in ("grid_fen", "subsidy_fen"):
        months_sum = sum(getattr(m, part) for m in months)
        assert (np.abs(months_sum - getattr(year, part)) <= 6).all()


def test_quarter_period_covers_three_months() -> None:
    inputs, energy = load_inputs(EXAMPLE), year_energy()
    q3 = parse_period("2020Q3")
    assert (q3.start, q3.end) == (date(2020, 7, 1), date(2020, 10, 1))
    result = allocate(inputs, q3, _slice_period(energy, q3.start, q3.end, "2020Q3"))
    assert result.period.days == 92
    assert int(result.plant_energy_wh.sum()) > 0


def _slice_period(energy: EnergyTable, start: date, end: date, label: str) -> EnergyTable:
    from allocator.periods import Period

    a, b = energy.period.index(start), energy.period.index(end)
    assert end - start == timedelta(days=b - a)
    return EnergyTable(Period(start, end, label), energy.plant_ids, energy.wh[:, a:b])
