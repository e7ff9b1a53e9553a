"""The line-loss report as a table for the terminal and as a CSV file (written atomically)."""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Sequence
from pathlib import Path

from rich.table import Table

from reports.line_loss import LossRow

COLUMNS = ("plant", "period", "inverters_kwh", "meter_kwh", "loss_kwh", "loss_pct", "meters",
           "flag")


def _num(v: float | None, digits: int = 1) -> str:
    return "" if v is None else f"{v:,.{digits}f}"


def loss_table(rows: Sequence[LossRow], max_loss_pct: float) -> Table:
    table = Table(title="Line loss: inverter energy against the settlement meter",
                  caption=f"flagged above {max_loss_pct:g}% loss, below 0%, or when incomplete")
    for col in ("plant", "period", "inverters kWh", "meter kWh", "loss kWh", "loss %",
                "meter", "flag"):
        table.add_column(col, justify="right" if "kWh" in col or "%" in col else "left")
    for r in rows:
        style = "bold red" if r.flag else None
        table.add_row(r.plant, r.period, _num(r.inverter_kwh), _num(r.meter_kwh),
                      _num(r.loss_kwh), _num(r.loss_pct, 2), ", ".join(r.meters), r.flag,
                      style=style)
    return table


def write_csv(rows: Sequence[LossRow], path: Path) -> None:
    """UTF-8 with a BOM (Excel opens it right), written to a temporary file and renamed."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(COLUMNS)
    for r in rows:
        w.writerow([r.plant, r.period, _plain(r.inverter_kwh), _plain(r.meter_kwh),
                    _plain(r.loss_kwh), _plain(r.loss_pct, 3), " ".join(r.meters), r.flag])
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(buf.getvalue(), encoding="utf-8-sig")
    os.replace(tmp, path)


def _plain(v: float | None, digits: int = 3) -> str:
    return "" if v is None else f"{v:.{digits}f}"
