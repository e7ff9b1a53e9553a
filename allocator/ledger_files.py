"""The ledger and the payment splits as files: ledger.json (read back by --ledger-in),
ledger.csv and payments.csv for finance staff. Byte-identical on a rerun."""

from __future__ import annotations

import json

from allocator.ledger import Ledger, SplitRow
from allocator.model import Inputs
from allocator.outputs import csv_bytes
from allocator.payments import Payments
from allocator.periods import parse_period

LEDGER_COLUMNS = ("village_id", "village_name", "plant_id", "period", "part", "entitled_fen",
                  "received_fen", "outstanding_fen")
PAYMENT_COLUMNS = ("reference", "received", "plant_id", "part", "periods", "amount_fen",
                   "village_id", "for_period", "fen", "took_leftover_fen")


def _sorted_keys(ledger: Ledger) -> list:
    return sorted(ledger.entries, key=lambda k: (k[0], k[1], parse_period(k[2]).start,
                                                 k[3]))


def ledger_files(ledger: Ledger, splits: list[SplitRow], inputs: Inputs,
                 payments: Payments | None, provisional: bool) -> dict[str, bytes]:
    keys = _sorted_keys(ledger)
    doc = {
        "period": ledger.period,
        "provisional": provisional,
        "inputs": {"ledger_in": ledger.previous,
                   "payments": None if payments is None else {"path": payments.path,
                                                              "sha256": payments.sha256}},
        "rules": {"split": "a payment is split in proportion to what each village is still "
                           "owed of that part for the periods it covers; largest remainder, "
                           "ties: larger remainder, then lower village id; a village's share "
                           "fills its oldest outstanding period first"},
        "totals": {
            "entitled_fen": sum(v[0] for v in ledger.entries.values()),
            "received_fen": sum(v[1] for v in ledger.entries.values()),
            "outstanding_fen": sum(v[0] - v[1] for v in ledger.entries.values()),
        },
        "entries": [
            {"village_id": k[0], "plant_id": k[1], "period": k[2], "part": k[3],
             "entitled_fen": ledger.entries[k][0], "received_fen": ledger.entries[k][1],
             "outstanding_fen": ledger.owed(k)}
            for k in keys],
        "payments_applied": [{"reference": r, "applied_in": p}
                             for r, p in sorted(ledger.applied.items())],
    }

    def name(vid: str) -> str:
        village = inputs.villages.get(vid)
        return village.name if village else ""

    def period(label: str) -> str:  # a provisional run's own period says so in every row
        return f"{label} (provisional)" if provisional and label == ledger.period else label

    rows: list[list[object]] = [list(LEDGER_COLUMNS)]
    rows += [[k[0], name(k[0]), k[1], period(k[2]), k[3], *ledger.entries[k], ledger.owed(k)]
             for k in keys]
    pay_rows: list[list[object]] = [list(PAYMENT_COLUMNS)]
    pay_rows += [[s.payment.reference, str(s.payment.received), s.payment.plant_id,
                  s.payment.part, ";".join(map(period, s.payment.periods)),
                  s.payment.amount_fen, s.village_id, period(s.period), s.fen, int(s.leftover)]
                 for s in splits]
    return {
        "ledger.json": (json.dumps(doc, ensure_ascii=False, indent=2) + "\n").encode("utf-8"),
        "ledger.csv": csv_bytes(rows),
        "payments.csv": csv_bytes(pay_rows),
    }
