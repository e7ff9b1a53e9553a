"""``--carry-in``: the unpaid deductions of the previous period's allocation.json, checked.

A carry is only taken from exactly the period before, of the same kind, so the same month's
file or an old one can never be counted twice; negative or fractional carries and plants the
inputs do not know are refused.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

from allocator.errors import InputError
from allocator.model import MAX_FEN
from allocator.periods import Period, parse_period


@dataclass(frozen=True)
class CarryIn:
    """Unpaid deductions taken over from the previous period's allocation.json."""

    path: str
    sha256: str
    period: str  # the previous period's label
    fen: dict[str, int]  # plant id -> fen carried in


def read_carry_in(path: Path, period: Period, plant_ids: Collection[str]) -> CarryIn:
    """The carry of ``path``, checked against the period being allocated.

    The file must be the allocation.json of exactly the period before ``period``, of the same
    kind (month after month, quarter after quarter, year after year); a single-day preview
    neither carries in nor can be carried from. Every carry is an integer >= 0 and names a
    plant of the inputs. Anything else is an InputError naming the file.
    """
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise InputError(f"--carry-in {path}: cannot read ({e.strerror})") from e
    try:
        doc = json.loads(raw.decode("utf-8"))
        label, rows = doc["period"], doc["plants"]
        if not isinstance(label, str) or not isinstance(rows, list):
            raise TypeError("`period` must be text and `plants` a list")
    except (ValueError, KeyError, TypeError) as e:
        raise InputError(f"--carry-in {path}: not a previous allocation.json ({e})") from e
    if doc.get("provisional") is True:
        raise InputError(f"--carry-in {path}: it is a provisional result ({label}); carry from "
                         f"the final allocation of the period before")
    if period.kind not in _CARRYING:
        raise InputError(f"--carry-in {path}: period {period.label} is a "
                         f"{period.kind} period; only a month, quarter or year takes a carry")
    try:
        previous = parse_period(label)
    except InputError as e:
        raise InputError(f"--carry-in {path}: its period {label!r} is not a settlement "
                         f"period ({e})") from e
    if previous.kind != period.kind or previous.next() != period:
        raise InputError(
            f"--carry-in {path}: it is for period {previous.label}, but {period.label} takes "
            f"the carry of the {period.kind} just before it"
            + (f" ({_previous_label(period)})" if period.kind in _CARRYING else ""))
    fen: dict[str, int] = {}
    problems = []
    known = set(plant_ids)
    for i, row in enumerate(rows):
        pid = row.get("plant_id") if isinstance(row, dict) else None
        value = row.get("carry_forward_fen") if isinstance(row, dict) else None
        if not isinstance(pid, str):
            problems.append(f"plants[{i}]: no plant_id")
            continue
        if pid not in known:
            problems.append(f"plants[{i}]: unknown plant {pid!r}")
        elif pid in fen:
            problems.append(f"plants[{i}]: plant {pid} is listed twice")
        elif isinstance(value, bool) or not isinstance(value, int) or value < 0:
            problems.append(f"plants[{i}]: plant {pid}: carry_forward_fen {value!r} must be "
                            f"an integer >= 0 (fen)")
        elif value > MAX_FEN:
            problems.append(f"plants[{i}]: plant {pid}: carry_forward_fen {value} is above the "
                            f"limit of {MAX_FEN} fen (10^13 yuan)")
        else:
            fen[pid] = value
    if problems:
        raise InputError(f"--carry-in {path}: " + "; ".join(problems))
    return CarryIn(str(path), hashlib.sha256(raw).hexdigest(), previous.label, fen)


_CARRYING = ("month", "quarter", "year")


def _previous_label(period: Period) -> str:
    if period.kind == "month":
        y, m = (period.year - 1, 12) if period.start.month == 1 else (period.year,
                                                                       period.start.month - 1)
        return f"{y}-{m:02d}"
    if period.kind == "quarter":
        q = (period.start.month - 1) // 3 + 1
        return f"{period.year - 1}Q4" if q == 1 else f"{period.year}Q{q - 1}"
    return str(period.year - 1)
