"""Is a day's energy physically possible for the plant? The ceiling and its margin.

A PV plant cannot deliver more AC energy in a day than its DC nameplate running at full power
for all 24 hours: inverters are sized at or below the DC capacity. Qinghai's village plants
average about 4 full-load hours a day (about 683 GWh a year from 471.6 MW), so the ceiling
``capacity_kwp x 24 h`` is about six times an average day and well above the best one, and
anything above it is a typing or meter error (an extra digit, Wh typed as kWh), never a sunny
day: 1e9 kWh at a 4,350 kWp plant is 9,578 times the ceiling of 104,400 kWh.
"""

from __future__ import annotations

from decimal import Decimal

import numpy as np

from allocator.energy import EnergyTable
from allocator.errors import EnergyError

HOURS_PER_DAY = 24


def daily_limit_wh(capacity_w: int) -> int:
    """The most energy (Wh) a plant of ``capacity_w`` W could produce in one day."""
    return capacity_w * HOURS_PER_DAY


def _kwh(wh: int) -> str:
    return str(Decimal(int(wh)).scaleb(-3).quantize(Decimal("0.001")))


def implausible_day(wh: int, capacity_w: int) -> str:
    """Why ``wh`` in one day is impossible for the plant, or "" when it is possible."""
    limit = daily_limit_wh(capacity_w)
    if wh <= limit:
        return ""
    return (f"{_kwh(wh)} kWh in one day is more than the plant could produce: the limit is "
            f"{_kwh(limit)} kWh (capacity {_kwh(capacity_w)} kWp x {HOURS_PER_DAY} h)")


def check_plausible(table: EnergyTable, capacity_w: dict[str, int]) -> None:
    """Every day of every plant within its ceiling; else an EnergyError naming source, plant,
    day and the limit (for sources without lines, such as InfluxDB)."""
    limits = np.array([daily_limit_wh(capacity_w[p]) for p in table.plant_ids], dtype=np.int64)
    over = np.argwhere(table.wh > limits[:, None])
    if over.size:
        p, d = (int(x) for x in over[0])
        plant = table.plant_ids[p]
        raise EnergyError(
            f"{table.source or 'energy'}: plant {plant} on {table.period.dates()[d]}: "
            f"{implausible_day(int(table.wh[p, d]), capacity_w[plant])}"
            + (f" (and {len(over) - 1} more such days)" if len(over) > 1 else ""))
