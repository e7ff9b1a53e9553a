"""Energy from a CSV ``date,plant_id,kwh``: e.g. typed from the grid company's statement.

Rows outside the period are ignored; inside it, every plant needs every day exactly once.
kWh may have up to 3 decimals (Wh); more is an error, never silently rounded.
"""

from __future__ import annotations

import csv
import hashlib
import io
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path

import numpy as np

from allocator.energy import EnergyTable
from allocator.errors import EnergyError
from allocator.periods import Period


def _wh(text: str, where: str) -> int:
    try:
        kwh = Decimal(text.strip())
    except InvalidOperation as e:
        raise EnergyError(f"{where}: kwh {text!r} is not a number") from e
    if not kwh.is_finite() or kwh < 0:
        raise EnergyError(f"{where}: kwh {text!r} must be a finite number >= 0")
    wh = kwh.scaleb(3)
    if wh != wh.to_integral_value():
        raise EnergyError(f"{where}: kwh {text!r} has more than 3 decimals (Wh resolution)")
    return int(wh)


def parse_energy_csv(text: str, period: Period, plant_ids: list[str],
                     name: str = "<energy csv>") -> EnergyTable:
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    header = [h.strip() for h in next(reader, [])]
    if header != ["date", "plant_id", "kwh"]:
        raise EnergyError(f"{name}:1: header must be date,plant_id,kwh (got {','.join(header)})")
    index = {p: i for i, p in enumerate(plant_ids)}
    wh = np.zeros((len(plant_ids), period.days), dtype=np.int64)
    seen = np.zeros(wh.shape, dtype=bool)
    for line, row in enumerate(reader, start=2):
        if not row or all(not c.strip() for c in row):
            continue
        where = f"{name}:{line}"
        if len(row) != 3:
            raise EnergyError(f"{where}: expected 3 cells, got {len(row)}")
        try:
            day = date.fromisoformat(row[0].strip())
        except ValueError as e:
            raise EnergyError(f"{where}: date {row[0]!r} is not YYYY-MM-DD") from e
        d = period.index(day)
        plant = row[1].strip()
        if not 0 <= d < period.days or plant not in index:
            continue  # another period, or a plant this allocation does not cover
        p = index[plant]
        if seen[p, d]:
            raise EnergyError(f"{where}: second row for plant {plant} on {day}")
        seen[p, d] = True
        wh[p, d] = _wh(row[2], where)
    dates = period.dates()
    problems = []
    for p, plant in enumerate(plant_ids):
        missing = np.flatnonzero(~seen[p])
        if missing.size:
            problems.append(f"plant {plant}: no energy on {_ranges([dates[i] for i in missing])}")
    if problems:
        raise EnergyError(f"{name}: " + "; ".join(problems))
    return EnergyTable(period, tuple(plant_ids), wh, (), name,
                       hashlib.sha256(text.encode()).hexdigest())


def _ranges(days: list[date]) -> str:
    """Consecutive days as ``a..b`` runs, for short readable messages."""
    out, start, prev = [], days[0], days[0]
    for d in [*days[1:], None]:
        if d is not None and (d - prev).days == 1:
            prev = d
            continue
        out.append(str(start) if start == prev else f"{start}..{prev}")
        if d is not None:
            start = prev = d
    return ", ".join(out)


def decode_utf8(raw: bytes, name: str) -> str:
    """UTF-8 text, with or without a BOM; anything else (GBK from Excel...) is an EnergyError."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        bom = 3 if raw.startswith(b"\xef\xbb\xbf") else 0
        offset = e.start + bom
        line = raw.count(b"\n", 0, offset) + 1
        raise EnergyError(
            f"{name}:{line}: not UTF-8 (byte 0x{raw[offset]:02x} at byte offset {offset}); "
            f"save the file as UTF-8 (Excel: \"CSV UTF-8\"); GBK/ANSI text is not guessed at"
        ) from None


def load_energy_csv(path: Path, period: Period, plant_ids: list[str]) -> EnergyTable:
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise EnergyError(f"cannot read {path}: {e.strerror}") from e
    table = parse_energy_csv(decode_utf8(raw, str(path)), period, plant_ids, str(path))
    return EnergyTable(table.period, table.plant_ids, table.wh, table.flags, str(path),
                       hashlib.sha256(raw).hexdigest())
