"""The finance files of a run beyond the allocation: ledger, payment splits, reconciliation,
the public notices.

Kept apart from ``pipeline.run`` so that a run without any of these inputs still writes a
ledger (this period's entitlement, nothing received yet) to continue from next time.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from allocator.energy import EnergyTable
from allocator.ledger import Ledger, add_entitlement, apply_payments, read_ledger_in
from allocator.ledger_files import ledger_files
from allocator.model import Inputs
from allocator.payments import load_payments
from allocator.periods import Period
from allocator.reconcile import DEFAULT_THRESHOLD_PERCENT, load_statement, reconciliation_csv
from allocator.result import Allocation


@dataclass(frozen=True)
class FinanceInputs:
    ledger_in: Path | None = None  # the previous period's ledger.json
    payments: Path | None = None  # payments CSV (allocator/payments.py)
    grid_statement: Path | None = None  # the grid company's statement CSV (allocator/reconcile.py)
    threshold_percent: Decimal = DEFAULT_THRESHOLD_PERCENT
    notices: bool = False  # the public notice per village, HTML and PDF (allocator/notice.py)
    notice_template: Path | None = None  # a county's own Jinja2 template


def finance_files(f: FinanceInputs, a: Allocation, inputs: Inputs, energy: EnergyTable,
                  period: Period, provisional: bool) -> dict[str, bytes]:
    plant_ids = sorted(inputs.plants)
    ledger = read_ledger_in(f.ledger_in, period) if f.ledger_in else Ledger(period.label)
    add_entitlement(ledger, a)
    payments = load_payments(f.payments, plant_ids) if f.payments else None
    splits = apply_payments(ledger, payments) if payments else []
    files = ledger_files(ledger, splits, inputs, payments, provisional)
    if f.grid_statement is not None:
        rows = load_statement(f.grid_statement, plant_ids)
        files["reconciliation.csv"] = reconciliation_csv(rows, a, energy, f.threshold_percent)
    if f.notices:
        from allocator.notice import notice_html
        from allocator.notice_pdf import html_to_pdf

        pages = notice_html(a, inputs, energy, provisional, f.notice_template)
        files.update({k: v.encode("utf-8") for k, v in pages.items()})
        files.update(html_to_pdf(pages))
    return files
