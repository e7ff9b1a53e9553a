"""What an allocation produces, the same shape from the numpy engine and the Decimal reference."""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np
import numpy.typing as npt

from allocator.model import DEDUCTION_ITEMS
from allocator.periods import Period

I64 = npt.NDArray[np.int64]


@dataclass(frozen=True)
class LeftoverMark:
    """Which items of a split received one leftover unit, and the exact remainder behind it."""

    bonus: npt.NDArray[np.bool_]
    rank: I64  # 1 = the largest remainder in its group
    remainder: npt.NDArray  # exact remainder numerator per item (int64 or Python ints)
    denominator: npt.NDArray  # its denominator (the group's)

    def fraction(self, i: int) -> Fraction:
        """The remainder of item ``i`` as a fraction of one unit (fen)."""
        return Fraction(int(self.remainder[i]), int(self.denominator[i]))


@dataclass(frozen=True)
class Allocation:
    period: Period
    plant_ids: list[str]
    village_ids: list[str]
    # per plant
    plant_energy_wh: I64
    grid_exact: I64  # in 1e-5 fen (= Wh x 1e-4 yuan/kWh), before the half-up rounding
    subsidy_exact: I64
    grid_fen: I64
    subsidy_fen: I64
    items_due: I64  # [P, len(DEDUCTION_ITEMS)]: carried in, then each item in order
    items_applied: I64  # same shape: what the gross could pay
    # per pair (plant, village), sorted by plant then village id
    pair_plant: I64
    pair_village: I64
    energy_wh: I64
    grid_part_fen: I64
    subsidy_part_fen: I64
    deductions_fen: I64
    usage_names: list[str] = field(default_factory=list)
    usage_pair: I64 = field(default_factory=lambda: np.zeros(0, np.int64))
    usage_cat: I64 = field(default_factory=lambda: np.zeros(0, np.int64))
    usage_fen: I64 = field(default_factory=lambda: np.zeros(0, np.int64))
    marks: dict[str, LeftoverMark] = field(default_factory=dict)  # grid, subsidy, deductions, usage

    @property
    def gross_fen(self) -> I64:
        return self.grid_part_fen + self.subsidy_part_fen

    @property
    def net_fen(self) -> I64:
        return self.gross_fen - self.deductions_fen

    @property
    def plant_gross_fen(self) -> I64:
        return self.grid_fen + self.subsidy_fen

    @property
    def plant_deductions_fen(self) -> I64:
        return self.items_applied.sum(axis=1)

    @property
    def carry_out_fen(self) -> I64:
        return self.items_due.sum(axis=1) - self.plant_deductions_fen

    def carry_out(self) -> dict[str, int]:
        return {p: int(c) for p, c in zip(self.plant_ids, self.carry_out_fen, strict=True)}

    def canonical(self) -> tuple:
        """Everything that must be equal between two engines, as plain Python values."""
        plants = tuple(
            (p, int(self.plant_energy_wh[i]), int(self.grid_exact[i]), int(self.subsidy_exact[i]),
             int(self.grid_fen[i]), int(self.subsidy_fen[i]),
             tuple(int(x) for x in self.items_due[i]), tuple(int(x) for x in self.items_applied[i]))
            for i, p in enumerate(self.plant_ids)
        )
        pairs = tuple(
            (self.plant_ids[self.pair_plant[i]], self.village_ids[self.pair_village[i]],
             int(self.energy_wh[i]), int(self.grid_part_fen[i]), int(self.subsidy_part_fen[i]),
             int(self.deductions_fen[i]))
            for i in range(self.pair_plant.size)
        )
        usage = tuple(
            (int(self.usage_pair[i]), self.usage_names[self.usage_cat[i]], int(self.usage_fen[i]))
            for i in range(self.usage_pair.size)
        )
        marks = tuple(
            (name, tuple(np.flatnonzero(m.bonus).tolist()),
             tuple(m.fraction(i) for i in np.flatnonzero(m.bonus)))
            for name, m in sorted(self.marks.items())
        )
        return plants, pairs, usage, marks


assert len(DEDUCTION_ITEMS) == 6
