"""Energy from a CSV ``date,plant_id,kwh``: e.g. typed from the grid company's statement.

Rows outside the period are ignored; inside it, every plant needs every day exactly once, and a
plant the allocation file does not know is an error (its revenue would vanish without a word).
kWh is plain decimal notation (ASCII digits, at most one point, at most 3 decimals: Wh); no
sign, exponent, digit separator or full-width digit, and never silently rounded. A day above
what the plant could produce (see ``allocator/plausibility.py``) is refused with its line.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from collections.abc import Mapping
from datetime import date
from pathlib import Path

import numpy as np

from allocator.energy import EnergyTable
from allocator.errors import EnergyError
from allocator.periods import Period
from allocator.plausibility import implausible_day

_PLAIN_DECIMAL = re.compile(r"[0-9]+(\.[0-9]+)?", re.ASCII)
_ISO_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)  # not 20200601 nor 2020-W23-1
# a hard ceiling before the int64 array, whatever the capacity (10^12 kWh = 10^15 Wh)
MAX_KWH_DIGITS = 12


def _wh(text: str, where: str, what: str) -> int:
    """kWh text -> Wh; ``what`` (plant and day) ends every message."""
    cell = text.strip()
    if not _PLAIN_DECIMAL.fullmatch(cell):
        raise EnergyError(
            f"{where}: kwh {text!r} must be a plain decimal number >= 0 (e.g. 20000.125: "
            f"ASCII digits and one point; no sign, exponent, '_' or ',' separator, full-width "
            f"digit; {what})")
    whole, _, frac = cell.partition(".")
    if len(frac.rstrip("0")) > 3:
        raise EnergyError(f"{where}: kwh {text!r} has more than 3 decimals (Wh resolution; "
                          f"{what})")
    if len(whole.lstrip("0")) > MAX_KWH_DIGITS:
        raise EnergyError(f"{where}: kwh {text!r} is 10^{MAX_KWH_DIGITS} kWh or more ({what})")
    return int(whole) * 1000 + int((frac + "000")[:3])


def parse_energy_csv(text: str, period: Period, plant_ids: list[str],
                     name: str = "<energy csv>",
                     capacity_w: Mapping[str, int] | None = None) -> EnergyTable:
    """The period's energy; with ``capacity_w`` (plant id -> W) each day is also checked
    against what the plant could produce (``allocator/plausibility.py``)."""
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    header = [h.strip() for h in next(reader, [])]
    if header != ["date", "plant_id", "kwh"]:
        raise EnergyError(f"{name}:1: header must be date,plant_id,kwh (got {','.join(header)})")
    index = {p: i for i, p in enumerate(plant_ids)}
    wh = np.zeros((len(plant_ids), period.days), dtype=np.int64)
    seen = np.zeros(wh.shape, dtype=bool)
    unknown: dict[str, int] = {}  # plant id -> first line
    for line, row in enumerate(reader, start=2):
        if not row or all(not c.strip() for c in row):
            continue
        where = f"{name}:{line}"
        if len(row) != 3:
            raise EnergyError(f"{where}: expected 3 cells, got {len(row)}")
        try:
            if not _ISO_DAY.fullmatch(row[0].strip()):
                raise ValueError("not YYYY-MM-DD")
            day = date.fromisoformat(row[0].strip())
        except ValueError as e:
            raise EnergyError(f"{where}: date {row[0]!r} is not YYYY-MM-DD") from e
        d = period.index(day)
        plant = row[1].strip()
        if not 0 <= d < period.days:
            continue  # another period
        if plant not in index:
            unknown.setdefault(plant, line)
            continue
        p = index[plant]
        if seen[p, d]:
            raise EnergyError(f"{where}: second row for plant {plant} on {day}")
        seen[p, d] = True
        wh[p, d] = _wh(row[2], where, f"plant {plant} on {day}")
        if capacity_w is not None and (why := implausible_day(wh[p, d], capacity_w[plant])):
            raise EnergyError(f"{where}: plant {plant} on {day}: {why}")
    if unknown:
        raise EnergyError(f"{name}: " + "; ".join(
            f"line {line}: plant {plant!r} is not in the allocation file, so its revenue would "
            f"be dropped; add the plant or remove its rows" for plant, line in unknown.items()))
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


def load_energy_csv(path: Path, period: Period, plant_ids: list[str],
                    capacity_w: Mapping[str, int] | None = None) -> EnergyTable:
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise EnergyError(f"cannot read {path}: {e.strerror}") from e
    table = parse_energy_csv(decode_utf8(raw, str(path)), period, plant_ids, str(path),
                             capacity_w)
    return EnergyTable(table.period, table.plant_ids, table.wh, table.flags, str(path),
                       hashlib.sha256(raw).hexdigest())
