"""A case small enough to compute by hand (numbers derived in test_allocate_hand.py)."""

from __future__ import annotations

YAML = """
usage_split: {collective: 60, jobs_and_rewards: 40}
tariffs:
  - {from: 2016-01-01, grid: 0.3247, subsidy: 0.4253}
villages:
  - {id: a, name: 甲村}
  - {id: b, name: 乙村, usage_split: {}}
  - {id: c, name: 丙村}
plants:
  - id: p
    name: 联村电站
    kind: multi-village
    capacity_kwp: 900
    meter: p-meter
    shares:
      - {from: 2020-01-01, kw: {a: 300, b: 300, c: 300}}
      - {from: 2020-06-16, kw: {a: 450, b: 450, c: 0}}
    deductions:
      - {from: 2020-01-01, land_rent_per_year: 3660}
"""

ENERGY_CSV = """date,plant_id,kwh
2020-06-01,p,100.003
2020-06-16,p,200
2020-07-01,p,1000
"""


def energy_csv(month: str) -> str:
    """The CSV with zero rows for every other day of ``month`` (2020-06 or 2020-07)."""
    from allocator.periods import parse_period

    given = {line.split(",")[0] for line in ENERGY_CSV.splitlines()[1:]}
    rows = [f"{d},p,0" for d in map(str, parse_period(month).dates()) if d not in given]
    return ENERGY_CSV + "\n".join(rows) + "\n"
