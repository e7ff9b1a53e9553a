"""Money actually received, and its split among the villages.

A payments CSV (UTF-8, one row per payment)::

    received,plant_id,part,amount_yuan,periods,reference
    2021-03-15,p,subsidy,2000.00,2020-06;2020-07,补贴2021-007

``part`` is ``grid`` (the grid company's coal-benchmark part) or ``subsidy`` (the Renewable
Energy Development Fund's); ``periods`` are the settlement periods the payment covers,
separated by ``;``; ``reference`` (the payer's statement or voucher number) must be unique.

A payment is split among the plant's villages in proportion to what each is still owed of that
part for those periods (its entitlement less what earlier payments gave it), by largest
remainder with the allocation's tie-break (larger remainder, then lower village id). Before any
payment the weights are exactly the entitlement. So a full payment pays every village exactly
its entitlement, a short one is shared pro rata to what is owed, and no village ever receives
more than it is owed: its quota R x owed_v / owed is at most owed_v, and a leftover fen only
goes to a positive remainder (ceil(quota) <= owed_v).
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np

from allocator.energy_csv import decode_utf8
from allocator.errors import InputError
from allocator.model import MAX_FEN
from allocator.periods import parse_period
from allocator.plaintext import plain_units
from allocator.rounding import largest_remainder

PARTS = ("grid", "subsidy")
HEADER = ["received", "plant_id", "part", "amount_yuan", "periods", "reference"]
_ISO_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)


@dataclass(frozen=True)
class Payment:
    received: date
    plant_id: str
    part: str  # grid | subsidy
    amount_fen: int
    periods: tuple[str, ...]  # period labels, oldest first
    reference: str
    line: int = 0  # in the payments file, for messages


@dataclass(frozen=True)
class Payments:
    path: str
    sha256: str
    rows: tuple[Payment, ...]


def _payment(row: list[str], line: int, plants: Collection[str]) -> Payment:
    cells = [c.strip() for c in row]
    if len(cells) != len(HEADER):
        raise ValueError(f"expected {len(HEADER)} cells, got {len(cells)}")
    received, plant, part, amount, periods, reference = cells
    if not _ISO_DAY.fullmatch(received):
        raise ValueError(f"received {received!r} is not YYYY-MM-DD")
    day = date.fromisoformat(received)
    if plant not in plants:
        raise ValueError(f"plant {plant!r} is not in the allocation file")
    if part not in PARTS:
        raise ValueError(f"part {part!r} must be grid or subsidy")
    fen = plain_units(amount, 2, "amount_yuan")
    if not 0 < fen <= MAX_FEN:
        raise ValueError(f"amount_yuan {amount} must be above 0 and at most {MAX_FEN // 100} "
                         f"yuan")
    labels = [p.strip() for p in periods.split(";") if p.strip()]
    if not labels:
        raise ValueError("periods is empty (e.g. 2020-06 or 2020-06;2020-07)")
    parsed = sorted({parse_period(p) for p in labels})
    if len(parsed) != len(labels):
        raise ValueError(f"periods {periods!r} names a period twice")
    if not reference:
        raise ValueError("reference is empty (the payer's statement or voucher number)")
    return Payment(day, plant, part, fen, tuple(p.label for p in parsed), reference, line)


def parse_payments(text: str, plants: Collection[str], name: str = "<payments>") -> Payments:
    """Every row checked; every problem reported at once, with file and line."""
    reader = csv.reader(io.StringIO(text))
    header = [h.strip() for h in next(reader, [])]
    if header != HEADER:
        raise InputError(f"{name}:1: header must be {','.join(HEADER)} (got {','.join(header)})")
    rows, problems, seen = [], [], {}
    for line, row in enumerate(reader, start=2):
        if not row or all(not c.strip() for c in row):
            continue
        try:
            pay = _payment(row, line, plants)
        except (ValueError, InputError) as e:
            problems.append(f"{name}:{line}: {e}")
            continue
        if pay.reference in seen:
            problems.append(f"{name}:{line}: reference {pay.reference!r} is also on line "
                            f"{seen[pay.reference]}: a payment is entered once")
            continue
        seen[pay.reference] = line
        rows.append(pay)
    if problems:
        raise InputError("invalid payments:\n  " + "\n  ".join(problems))
    return Payments(name, hashlib.sha256(text.encode()).hexdigest(), tuple(rows))


def load_payments(path: Path, plants: Collection[str]) -> Payments:
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise InputError(f"--payments {path}: cannot read ({e.strerror})") from e
    parsed = parse_payments(decode_utf8(raw, str(path)), plants, str(path))
    return Payments(str(path), hashlib.sha256(raw).hexdigest(), parsed.rows)


@dataclass(frozen=True)
class ReceivedSplit:
    """One payment's split: per village (sorted by id) the fen and whether it took a leftover."""

    villages: tuple[str, ...]
    fen: tuple[int, ...]
    leftover: tuple[bool, ...]


def split_received(amount_fen: int, owed: Mapping[str, int]) -> ReceivedSplit:
    """Split ``amount_fen`` in proportion to ``owed`` (village id -> fen still owed, >= 0).

    The amount must not exceed the total owed. Largest remainder; ties go to the larger
    remainder, then the lower village id.
    """
    villages = tuple(sorted(owed))
    weights = np.array([owed[v] for v in villages], dtype=np.int64)
    total = int(weights.sum())
    if amount_fen > total:
        raise InputError(f"{amount_fen} fen is more than the {total} fen still owed")
    if (weights < 0).any():
        raise InputError("a village is owed a negative amount")
    split = largest_remainder(np.array([amount_fen], dtype=np.int64), weights,
                              np.array([total], dtype=np.int64),
                              np.zeros(len(villages), dtype=np.int64),
                              np.arange(len(villages), dtype=np.int64))
    return ReceivedSplit(villages, tuple(int(x) for x in split.amount),
                         tuple(bool(b) for b in split.bonus))
