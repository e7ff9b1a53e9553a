"""The ledger per village (分村建立台账): entitled, received and outstanding, by plant, period and
part, carried from one run to the next.

Each ``pvrelief allocate`` run writes ``ledger.json``: the previous run's ledger (``--ledger-in``,
checked like ``--carry-in``: only the ledger of exactly the period before, of the same kind, not
provisional; its sha256 recorded), plus this period's entitlement (each village's grid and
subsidy parts), plus the payments of ``--payments`` split among the villages
(``allocator/payments.py``). A payment's reference is applied once, ever: the ledger remembers
every reference it has applied.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from allocator.errors import InputError
from allocator.model import MAX_FEN
from allocator.payments import PARTS, Payment, Payments, split_received
from allocator.periods import Period, parse_period
from allocator.result import Allocation

Key = tuple[str, str, str, str]  # village id, plant id, period label, part


@dataclass
class Ledger:
    period: str  # the last period entered
    previous: dict | None = None  # path, sha256 and period of --ledger-in
    entries: dict[Key, list[int]] = field(default_factory=dict)  # -> [entitled, received]
    applied: dict[str, str] = field(default_factory=dict)  # reference -> period applied in

    def owed(self, key: Key) -> int:
        entitled, received = self.entries[key]
        return entitled - received


@dataclass(frozen=True)
class SplitRow:
    """What one village got of one payment, and for which period."""

    payment: Payment
    village_id: str
    period: str
    fen: int
    leftover: bool  # the village's share took one of the payment's leftover fen


def _int_fen(value: object, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_FEN:
        raise InputError(f"{where}: {value!r} must be an integer 0..{MAX_FEN} (fen)")
    return value


def read_ledger_in(path: Path, period: Period) -> Ledger:
    """The ledger of exactly the period before ``period`` (same kind), checked entry by entry."""
    try:
        raw = path.read_bytes()
        doc = json.loads(raw.decode("utf-8"))
        label, rows, applied = doc["period"], doc["entries"], doc["payments_applied"]
    except OSError as e:
        raise InputError(f"--ledger-in {path}: cannot read ({e.strerror})") from e
    except (ValueError, KeyError, TypeError) as e:
        raise InputError(f"--ledger-in {path}: not a previous ledger.json ({e})") from e
    if doc.get("provisional") is True:
        raise InputError(f"--ledger-in {path}: it is a provisional ledger ({label}); continue "
                         f"from the final run of the period before")
    try:
        previous = parse_period(str(label))
    except InputError as e:
        raise InputError(f"--ledger-in {path}: its period {label!r} is not a settlement "
                         f"period") from e
    if period.kind not in ("month", "quarter", "year") or previous.kind != period.kind \
            or previous.next() != period:
        raise InputError(f"--ledger-in {path}: it is the ledger of {previous.label}, but "
                         f"{period.label} continues the ledger of the {period.kind} just "
                         f"before it")
    ledger = Ledger(period.label, {"path": str(path), "sha256": hashlib.sha256(raw).hexdigest(),
                                   "period": previous.label})
    for i, row in enumerate(rows):
        where = f"--ledger-in {path}: entries[{i}]"
        try:
            key = (row["village_id"], row["plant_id"], row["period"], row["part"])
            entitled = _int_fen(row["entitled_fen"], f"{where}: entitled_fen")
            received = _int_fen(row["received_fen"], f"{where}: received_fen")
        except (KeyError, TypeError) as e:
            raise InputError(f"{where}: missing {e}") from e
        if not all(isinstance(k, str) for k in key) or key[3] not in PARTS:
            raise InputError(f"{where}: bad village, plant, period or part")
        if received > entitled:
            raise InputError(f"{where}: received {received} fen is more than entitled "
                             f"{entitled} fen")
        if key in ledger.entries:
            raise InputError(f"{where}: {'/'.join(key)} is listed twice")
        ledger.entries[key] = [entitled, received]
    for item in applied:
        ledger.applied[str(item["reference"])] = str(item["applied_in"])
    return ledger


def add_entitlement(ledger: Ledger, a: Allocation) -> None:
    """Enter each village's grid and subsidy parts of this allocation."""
    for i in range(a.pair_plant.size):
        village, plant = a.village_ids[a.pair_village[i]], a.plant_ids[a.pair_plant[i]]
        for part, fen in (("grid", a.grid_part_fen[i]), ("subsidy", a.subsidy_part_fen[i])):
            key = (village, plant, ledger.period, part)
            if key in ledger.entries:
                raise InputError(f"the ledger already holds {'/'.join(key)}")
            ledger.entries[key] = [int(fen), 0]


def apply_payments(ledger: Ledger, payments: Payments) -> list[SplitRow]:
    """Split every payment (by date received, then line) and enter it; the rows of the splits.

    A village's share of a payment that covers several periods fills its oldest outstanding
    period first.
    """
    out: list[SplitRow] = []
    for pay in sorted(payments.rows, key=lambda p: (p.received, p.line)):
        where = f"{payments.path}:{pay.line}: payment {pay.reference}"
        if pay.reference in ledger.applied:
            raise InputError(f"{where}: already applied in the run of "
                             f"{ledger.applied[pay.reference]}")
        keys: dict[str, list[Key]] = {}
        for (v, p, per, part) in ledger.entries:
            if p == pay.plant_id and part == pay.part and per in pay.periods:
                keys.setdefault(v, []).append((v, p, per, part))
        entered = {k[2] for ks in keys.values() for k in ks}
        missing = [p for p in pay.periods if p not in entered]
        if missing:
            raise InputError(f"{where}: covers {', '.join(missing)}, which the ledger does not "
                             f"hold for plant {pay.plant_id} (allocate it first, or continue "
                             f"the ledger with --ledger-in)")
        owed = {v: sum(ledger.owed(k) for k in ks) for v, ks in keys.items()}
        if pay.amount_fen > sum(owed.values()):
            raise InputError(f"{where}: {pay.amount_fen} fen is more than the "
                             f"{sum(owed.values())} fen still owed for the {pay.part} part of "
                             f"{', '.join(pay.periods)}")
        split = split_received(pay.amount_fen, owed)
        for v, fen, bonus in zip(split.villages, split.fen, split.leftover, strict=True):
            for key in sorted(keys[v], key=lambda k: parse_period(k[2])):  # oldest first
                take = min(fen, ledger.owed(key))
                if take:
                    ledger.entries[key][1] += take
                    out.append(SplitRow(pay, v, key[2], take, bonus))
                    fen -= take
        ledger.applied[pay.reference] = ledger.period
    return out
