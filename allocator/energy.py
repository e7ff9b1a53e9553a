"""Daily on-grid energy per plant for one period, in Wh, whatever source it came from."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import numpy as np
import numpy.typing as npt

from allocator.errors import EnergyError
from allocator.periods import Period


@dataclass(frozen=True)
class EnergyFlag:
    """Something a finance officer should know about a day's energy."""

    plant_id: str
    day: date
    kind: str  # "interpolated" | "counter_reset" | "counter_dip_ignored"
    detail: str


@dataclass(frozen=True)
class EnergyTable:
    period: Period
    plant_ids: tuple[str, ...]
    wh: npt.NDArray[np.int64]  # [plant, day] for every day of the period
    flags: tuple[EnergyFlag, ...] = ()
    source: str = ""  # what it was read from, for allocation.json
    source_sha256: str = ""
    meta: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.wh.shape != (len(self.plant_ids), self.period.days):
            raise EnergyError(
                f"energy table shape {self.wh.shape} does not match "
                f"{len(self.plant_ids)} plants x {self.period.days} days"
            )
        if (self.wh < 0).any():
            p, d = np.argwhere(self.wh < 0)[0]
            raise EnergyError(
                f"plant {self.plant_ids[p]}: negative energy on {self.period.dates()[d]}"
            )

    def rows_for(self, plant_ids: list[str]) -> npt.NDArray[np.int64]:
        """The [plant, day] array in the order of ``plant_ids``; every plant must be present.

        Already in that order, it is the table's own array (not copied: nothing writes to it).
        """
        if tuple(plant_ids) == self.plant_ids:
            return self.wh
        index = {p: i for i, p in enumerate(self.plant_ids)}
        missing = [p for p in plant_ids if p not in index]
        if missing:
            raise EnergyError(
                f"no energy for plant(s) {', '.join(missing)} in {self.period.label} "
                f"(source: {self.source or 'energy table'})"
            )
        return self.wh[[index[p] for p in plant_ids]]
