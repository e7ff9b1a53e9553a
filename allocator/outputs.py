"""Files for finance staff: allocation.csv, plants.csv, leftovers.csv and allocation.json.

Every byte depends only on the inputs and the code version (no clock, no dict-order luck),
so a rerun gives identical files. Cells that a spreadsheet would run as a formula are escaped.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from fractions import Fraction
from importlib import metadata
from pathlib import Path

import numpy as np

from allocator.carry import CarryIn
from allocator.energy import EnergyTable
from allocator.model import DEDUCTION_ITEMS, FEN_PER_WH_U, Inputs
from allocator.result import Allocation

CSV_COLUMNS = ("period", "plant_id", "village_id", "village_name", "energy_kwh", "gross_fen",
               "grid_part_fen", "subsidy_part_fen", "deductions_fen", "net_fen")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
BOM = "\ufeff"


def code_version() -> str:
    try:
        return metadata.version("pvrelief")
    except metadata.PackageNotFoundError:
        return "unknown"


def escape_cell(value: object) -> str:
    """Text a spreadsheet shows as text: a leading = + - @ (or tab/CR) gets a ' in front.

    Only text cells are escaped: numbers (int, Decimal) are ours, and a negative one (a
    reconciliation difference) must stay a number.
    """
    if isinstance(value, int | Decimal):
        return str(value)
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def kwh_text(wh: int) -> str:
    return str(Decimal(int(wh)).scaleb(-3).quantize(Decimal("0.001")))


def fen_text(exact: Fraction, places: int = 5) -> str:
    """An exact fen amount as a decimal string, cut (not rounded) to ``places``."""
    q = Decimal(exact.numerator) / Decimal(exact.denominator)
    return str(q.quantize(Decimal(1).scaleb(-places), rounding=ROUND_DOWN))


def csv_bytes(rows: list[list[object]]) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    for row in rows:
        writer.writerow([escape_cell(c) for c in row])
    return (BOM + buf.getvalue()).encode("utf-8")


@dataclass(frozen=True)
class Leftover:
    plant_id: str
    village_id: str
    part: str  # grid | subsidy | deductions | usage:<category>
    fen: int
    rank: int
    leftovers_in_split: int
    remainder: Fraction  # of one fen, that won the leftover

    def reason(self) -> str:
        return (f"largest remainder: {fen_text(self.remainder, 6)} fen left after the floor, "
                f"rank {self.rank} of {self.leftovers_in_split} leftover fen of this split "
                f"(ties: larger remainder, then lower id)")


def leftovers(a: Allocation) -> list[Leftover]:
    out = []
    for part in ("grid", "subsidy", "deductions", "usage"):
        mark = a.marks.get(part)
        if mark is None:
            continue
        pairs = a.usage_pair if part == "usage" else np.arange(a.pair_plant.size)
        group = a.pair_plant[pairs]
        if part == "usage":
            group = pairs
        counts = np.bincount(group[mark.bonus], minlength=int(group.max(initial=-1)) + 1)
        for i in np.flatnonzero(mark.bonus):
            pair = int(pairs[i])
            label = f"usage:{a.usage_names[a.usage_cat[i]]}" if part == "usage" else part
            out.append(Leftover(a.plant_ids[a.pair_plant[pair]],
                                a.village_ids[a.pair_village[pair]], label, 1,
                                int(mark.rank[i]), int(counts[group[i]]), mark.fraction(i)))
    return out


def allocation_rows(a: Allocation, inputs: Inputs) -> list[list[object]]:
    usage = {}
    for i in range(a.usage_pair.size):
        usage[(int(a.usage_pair[i]), int(a.usage_cat[i]))] = int(a.usage_fen[i])
    rows: list[list[object]] = [[*CSV_COLUMNS, *(f"usage_{u}_fen" for u in a.usage_names)]]
    gross, net = a.gross_fen, a.net_fen
    for i in range(a.pair_plant.size):
        vid = a.village_ids[a.pair_village[i]]
        rows.append([
            a.period.label, a.plant_ids[a.pair_plant[i]], vid, inputs.villages[vid].name,
            kwh_text(a.energy_wh[i]), int(gross[i]), int(a.grid_part_fen[i]),
            int(a.subsidy_part_fen[i]), int(a.deductions_fen[i]), int(net[i]),
            *(usage.get((i, c), "") for c in range(len(a.usage_names))),
        ])
    return rows


PLANT_COLUMNS = ("period", "plant_id", "plant_name", "kind", "villages", "energy_kwh",
                 "grid_exact_fen", "subsidy_exact_fen", "grid_fen", "subsidy_fen", "gross_fen",
                 *(f"{k}_fen" for k in DEDUCTION_ITEMS), "deductions_fen", "carry_forward_fen",
                 "net_fen")


def _portion_exact(a: Allocation, inputs: Inputs, p: int, exact: int) -> Fraction:
    plant = inputs.plants[a.plant_ids[p]]
    return Fraction(int(exact) * plant.shared_w, FEN_PER_WH_U * plant.capacity_w)


def plant_rows(a: Allocation, inputs: Inputs) -> list[list[object]]:
    rows: list[list[object]] = [list(PLANT_COLUMNS)]
    n_villages = np.bincount(a.pair_plant, minlength=len(a.plant_ids))
    ded, carry = a.plant_deductions_fen, a.carry_out_fen
    for p, pid in enumerate(a.plant_ids):
        plant = inputs.plants[pid]
        gross = int(a.grid_fen[p] + a.subsidy_fen[p])
        rows.append([
            a.period.label, pid, plant.name, plant.kind, int(n_villages[p]),
            kwh_text(a.plant_energy_wh[p]),
            fen_text(_portion_exact(a, inputs, p, a.grid_exact[p])),
            fen_text(_portion_exact(a, inputs, p, a.subsidy_exact[p])),
            int(a.grid_fen[p]), int(a.subsidy_fen[p]), gross,
            *(int(x) for x in a.items_applied[p]), int(ded[p]), int(carry[p]),
            gross - int(ded[p]),
        ])
    return rows


def summary_json(a: Allocation, inputs: Inputs, energy: EnergyTable,
                 config_path: str = "", carry_in: CarryIn | None = None) -> dict:
    plants = []
    for p, pid in enumerate(a.plant_ids):
        plants.append({
            "plant_id": pid,
            "energy_kwh": kwh_text(a.plant_energy_wh[p]),
            "grid_exact_fen": fen_text(_portion_exact(a, inputs, p, a.grid_exact[p])),
            "subsidy_exact_fen": fen_text(_portion_exact(a, inputs, p, a.subsidy_exact[p])),
            "grid_fen": int(a.grid_fen[p]), "subsidy_fen": int(a.subsidy_fen[p]),
            "gross_fen": int(a.plant_gross_fen[p]),
            "deductions_due_fen": dict(zip(DEDUCTION_ITEMS, map(int, a.items_due[p]), strict=True)),
            "deductions_applied_fen": dict(zip(DEDUCTION_ITEMS, map(int, a.items_applied[p]),
                                               strict=True)),
            "deductions_fen": int(a.plant_deductions_fen[p]),
            "carry_forward_fen": int(a.carry_out_fen[p]),
            "net_fen": int(a.plant_gross_fen[p] - a.plant_deductions_fen[p]),
        })
    return {
        "period": a.period.label, "start": str(a.period.start),
        "end_exclusive": str(a.period.end),
        "code": {"package": "pvrelief", "version": code_version()},
        "inputs": {
            "config": {"path": config_path, "sha256": inputs.source_sha256},
            "energy": {"source": energy.source, "sha256": energy.source_sha256},
            "carry_in": None if carry_in is None else {
                "path": carry_in.path, "sha256": carry_in.sha256, "period": carry_in.period},
        },
        "rules": {
            "money": "integer fen; plant grid and subsidy totals rounded half-up once per period",
            "split": "largest remainder; ties: larger remainder, then lower village id",
            "deduction_order": list(DEDUCTION_ITEMS),
        },
        "totals": {
            "gross_fen": int(a.plant_gross_fen.sum()),
            "deductions_fen": int(a.plant_deductions_fen.sum()),
            "net_fen": int(a.net_fen.sum()),
            "carry_forward_fen": int(a.carry_out_fen.sum()),
        },
        "plants": plants,
        "energy_flags": [
            {"plant_id": f.plant_id, "date": str(f.day), "kind": f.kind, "detail": f.detail}
            for f in energy.flags
        ],
        "leftover_fen": [
            {"plant_id": x.plant_id, "village_id": x.village_id, "part": x.part, "fen": x.fen,
             "remainder_fen": fen_text(x.remainder, 6), "reason": x.reason()}
            for x in leftovers(a)
        ],
    }


def output_files(a: Allocation, inputs: Inputs, energy: EnergyTable, config_path: str = "",
                 carry_in: CarryIn | None = None, provisional: bool = False) -> dict[str, bytes]:
    """The CSVs and allocation.json as bytes, by file name.

    A provisional run (a period not ended yet) is marked in every file: ``a.period.label``
    then ends in " (provisional)" in every row, and allocation.json says ``provisional``.
    """
    summary = summary_json(a, inputs, energy, config_path, carry_in)
    summary["provisional"] = provisional
    return {
        "allocation.csv": csv_bytes(allocation_rows(a, inputs)),
        "plants.csv": csv_bytes(plant_rows(a, inputs)),
        "leftovers.csv": csv_bytes(
            [["period", "plant_id", "village_id", "part", "fen", "remainder_fen", "reason"]]
            + [[a.period.label, x.plant_id, x.village_id, x.part, x.fen,
                fen_text(x.remainder, 6), x.reason()] for x in leftovers(a)]),
        "allocation.json": (json.dumps(summary, ensure_ascii=False, indent=2)
                            + "\n").encode("utf-8"),
    }


def write_outputs(out: Path, a: Allocation, inputs: Inputs, energy: EnergyTable,
                  config_path: str = "", carry_in: CarryIn | None = None) -> list[Path]:
    """Write the CSVs and allocation.json alone (atomically); returns the files written."""
    from allocator.publish import publish

    return publish(out, output_files(a, inputs, energy, config_path, carry_in))
