"""Computed periods on disk, as ``pvrelief allocate --out`` writes them, and new runs.

``web.revenue_dir`` holds one folder per period, named by its label (``2020-06``, ``2020Q2``,
``2020``, ``2020-06-21``). A folder counts once it has an ``allocation.json``. The page reads
the CSV files it shows, never recomputes them, and serves only files it finds by listing:
a name from a URL is looked up, never joined into a path.

A run from the page calls ``allocator.pipeline.run``, the code ``pvrelief allocate`` runs,
with the config's ``influxdb:`` section (meters in, revenue points out) and, for a month,
quarter or year, the previous period's ``allocation.json`` as carry-in when that folder is
there. The allocator publishes the folder atomically (allocator/publish.py): a period is
either the old run or the new one, never half of each. A period that has not ended by the
page's clock is refused unless the user asks for a provisional preview, as with
``pvrelief allocate --provisional``.
"""

from __future__ import annotations

import csv
import json
import threading
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from allocator.errors import InputError
from allocator.periods import Period, parse_period
from web.errors import NotFound

DOWNLOADS = ("allocation.csv", "plants.csv")
_run_lock = threading.Lock()


@dataclass(frozen=True, slots=True)
class PeriodSummary:
    label: str
    period: Period
    folder: Path
    summary: dict[str, Any]  # allocation.json

    @property
    def totals(self) -> dict[str, int]:
        return self.summary.get("totals", {})  # type: ignore[no-any-return]

    @property
    def inputs(self) -> dict[str, Any]:
        return self.summary.get("inputs", {})  # type: ignore[no-any-return]


@dataclass(frozen=True, slots=True)
class PeriodDetail:
    summary: PeriodSummary
    plants: list[dict[str, str]]  # plants.csv rows
    villages: list[dict[str, Any]]  # per village: summed over its plants
    rows: list[dict[str, str]]  # allocation.csv rows
    statements: list[str]  # village ids with an XLSX


def _period_of(label: str) -> Period | None:
    try:
        p = parse_period(label)
    except InputError:
        return None
    return p if p.label == label else None


def list_periods(root: Path) -> list[PeriodSummary]:
    """Every computed period under ``root``, newest period first."""
    found = []
    if not root.is_dir():
        return []
    for entry in root.iterdir():
        period = _period_of(entry.name)
        summary_file = entry / "allocation.json"
        if period is None or not summary_file.is_file():
            continue
        try:
            summary = json.loads(summary_file.read_text("utf-8"))
        except (OSError, ValueError):
            continue
        found.append(PeriodSummary(entry.name, period, entry, summary))
    return sorted(found, key=lambda s: (s.period.start, s.period.end), reverse=True)


def find_period(root: Path, label: str) -> PeriodSummary:
    for s in list_periods(root):
        if s.label == label:
            return s
    raise NotFound(f"no computed period {label[:30]!r}")


def _csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as f:
        return list(csv.DictReader(f))


def read_period(root: Path, label: str) -> PeriodDetail:
    s = find_period(root, label)
    rows = _csv(s.folder / "allocation.csv")
    plants = _csv(s.folder / "plants.csv")
    villages: dict[str, dict[str, Any]] = {}
    money = ("gross_fen", "grid_part_fen", "subsidy_part_fen", "deductions_fen", "net_fen")
    for r in rows:
        v = villages.setdefault(r["village_id"], {"village_id": r["village_id"],
                                                  "village_name": r["village_name"],
                                                  "plants": 0, "energy_wh": 0,
                                                  **dict.fromkeys(money, 0)})
        v["plants"] += 1
        v["energy_wh"] += round(float(r["energy_kwh"]) * 1000)
        for k in money:
            v[k] += int(r[k])
    statements = sorted(p.stem for p in (s.folder / "statements").glob("*.xlsx"))
    return PeriodDetail(s, plants, sorted(villages.values(), key=lambda v: v["village_id"]),
                        rows, statements)


def download_path(root: Path, label: str, name: str) -> Path:
    s = find_period(root, label)
    if name not in DOWNLOADS:
        raise NotFound(name[:40])
    return s.folder / name


def statement_path(root: Path, label: str, village: str) -> Path:
    s = find_period(root, label)
    for p in (s.folder / "statements").glob("*.xlsx"):
        if p.stem == village:
            return p
    raise NotFound(f"no statement for {village[:40]!r} in {label}")


def previous_folder(root: Path, period: Period) -> Path | None:
    """The computed period just before ``period``, of the same kind, if there is one."""
    if period.kind not in ("month", "quarter", "year"):
        return None
    for s in list_periods(root):
        if s.period.kind == period.kind and s.period.next().label == period.label:
            return s.folder
    return None


def run_period(allocation: Path, root: Path, text: str, influx: Any, today: date,
               provisional: bool = False) -> PeriodSummary:
    """Allocate one period through allocator.pipeline.run (which publishes the folder
    atomically); ``today`` is the page's clock, which decides whether the period has ended."""
    from allocator.pipeline import run

    period = parse_period(text)
    root.mkdir(parents=True, exist_ok=True)
    with _run_lock:  # one run at a time: two would race for the same folder
        prev = previous_folder(root, period)
        run(allocation, period.label, root / period.label, None, influx,
            prev / "allocation.json" if prev else None, provisional=provisional, today=today)
    return find_period(root, period.label)


def fen(value: int | str) -> str:
    """Integer fen as yuan text with thousands separators: 123456 -> '1,234.56'."""
    n = int(value)
    sign = "-" if n < 0 else ""
    return f"{sign}{abs(n) // 100:,}.{abs(n) % 100:02d}"
