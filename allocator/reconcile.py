"""Reconciliation against the grid company's settlement statement (电费结算单).

A statement CSV (UTF-8)::

    plant_id,period,kwh,amount_yuan
    p,2020-06,300.003,97.41

gives, per plant and period, the energy the grid company settled and the amount it pays (its
coal-benchmark part, for the whole plant). Rows of the period being allocated are compared with
the settlement-meter energy and the computed grid part of the whole plant (energy x grid
tariff, rounded half-up once, before any poverty-portion scaling); a difference above the
threshold (percent of the statement's figure) is flagged. Rows of other periods are ignored;
a plant the allocation file does not know is an error.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from allocator.energy import EnergyTable
from allocator.energy_csv import decode_utf8
from allocator.errors import InputError
from allocator.model import FEN_PER_WH_U
from allocator.outputs import csv_bytes, kwh_text
from allocator.periods import parse_period
from allocator.plaintext import plain_units
from allocator.result import Allocation

HEADER = ["plant_id", "period", "kwh", "amount_yuan"]
DEFAULT_THRESHOLD_PERCENT = Decimal("0.5")
COLUMNS = ("period", "plant_id", "statement_kwh", "metered_kwh", "diff_kwh", "diff_kwh_percent",
           "statement_grid_fen", "computed_grid_fen", "diff_fen", "diff_fen_percent", "flagged")


@dataclass(frozen=True)
class StatementRow:
    plant_id: str
    period: str
    wh: int
    fen: int
    line: int


def load_statement(path: Path, plant_ids: list[str]) -> list[StatementRow]:
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise InputError(f"--grid-statement {path}: cannot read ({e.strerror})") from e
    reader = csv.reader(io.StringIO(decode_utf8(raw, str(path))))
    header = [h.strip() for h in next(reader, [])]
    if header != HEADER:
        raise InputError(f"{path}:1: header must be {','.join(HEADER)}")
    rows, problems, seen = [], [], set()
    for line, row in enumerate(reader, start=2):
        if not row or all(not c.strip() for c in row):
            continue
        try:
            if len(row) != 4:
                raise ValueError(f"expected 4 cells, got {len(row)}")
            plant, label = row[0].strip(), parse_period(row[1]).label
            if plant not in plant_ids:
                raise ValueError(f"plant {plant!r} is not in the allocation file")
            if (plant, label) in seen:
                raise ValueError(f"a second row for plant {plant} in {label}")
            seen.add((plant, label))
            rows.append(StatementRow(plant, label, plain_units(row[2], 3, "kwh"),
                                     plain_units(row[3], 2, "amount_yuan"), line))
        except (ValueError, InputError) as e:
            problems.append(f"{path}:{line}: {e}")
    if problems:
        raise InputError("invalid grid statement:\n  " + "\n  ".join(problems))
    return rows


def _percent(diff: int, base: int) -> Decimal | None:
    if base == 0:
        return None
    return (Decimal(100) * diff / base).quantize(Decimal("0.001"))


def reconciliation_csv(rows: list[StatementRow], a: Allocation, energy: EnergyTable,
                       threshold_percent: Decimal = DEFAULT_THRESHOLD_PERCENT) -> bytes:
    label = a.period.label.removesuffix(" (provisional)")
    metered = dict(zip(energy.plant_ids, (int(x) for x in energy.wh.sum(axis=1)), strict=True))
    index = {p: i for i, p in enumerate(a.plant_ids)}
    out: list[list[object]] = [list(COLUMNS)]
    for r in sorted(rows, key=lambda r: r.plant_id):
        if r.period != label:
            continue
        exact = int(a.grid_exact[index[r.plant_id]])
        computed = exact // FEN_PER_WH_U + (2 * (exact % FEN_PER_WH_U) >= FEN_PER_WH_U)
        d_wh, d_fen = metered[r.plant_id] - r.wh, computed - r.fen
        p_wh, p_fen = _percent(d_wh, r.wh), _percent(d_fen, r.fen)
        flagged = any((p is None and d != 0) or (p is not None and abs(p) > threshold_percent)
                      for p, d in ((p_wh, d_wh), (p_fen, d_fen)))
        out.append([a.period.label, r.plant_id, kwh_text(r.wh), kwh_text(metered[r.plant_id]),
                    Decimal(d_wh).scaleb(-3).quantize(Decimal("0.001")),
                    "" if p_wh is None else p_wh, r.fen, computed, d_fen,
                    "" if p_fen is None else p_fen, "yes" if flagged else ""])
    return csv_bytes(out)
