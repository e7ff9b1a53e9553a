"""Payments received, split by what is owed; the ledger per village; reconciliation."""

from __future__ import annotations

import csv
import json
from decimal import Decimal, localcontext
from pathlib import Path

import pytest
from hand_case import YAML, energy_csv
from hypothesis import given, settings
from hypothesis import strategies as st

from allocator.errors import InputError
from allocator.payments import split_received
from allocator.pipeline import FinanceInputs, run
from allocator.reference import EXACT

PAY_HEAD = "received,plant_id,part,amount_yuan,periods,reference\n"


def _reference_split(amount: int, owed: dict[str, int]) -> dict[str, int]:
    """Decimal, exact (every inexact operation traps), written without the numpy engine."""
    total = sum(owed.values())
    with localcontext(EXACT):
        parts = {v: divmod(Decimal(amount) * Decimal(w), Decimal(total)) for v, w in owed.items()}
    got = {v: int(q) for v, (q, _) in parts.items()}
    left = amount - sum(got.values())
    for v in sorted(owed, key=lambda v: (-parts[v][1], v))[:left]:
        got[v] += 1
    return got


# small amounts owed make exact ties common (the tie-break decides), large ones take the
# engine's wide-integer path
villages = st.dictionaries(st.from_regex(r"[a-z][a-z0-9]{0,4}", fullmatch=True),
                           st.integers(0, 6) | st.integers(0, 10**13), min_size=1, max_size=8)


@settings(max_examples=300, deadline=None)
@given(villages, st.data())
def test_received_split_equals_the_decimal_reference(owed: dict[str, int],
                                                     data: st.DataObject) -> None:
    total = sum(owed.values())
    amount = data.draw(st.integers(0, total))
    split = split_received(amount, owed)
    got = dict(zip(split.villages, split.fen, strict=True))
    assert got == _reference_split(amount, owed) if total else all(x == 0 for x in got.values())
    assert sum(got.values()) == amount
    assert all(got[v] <= owed[v] for v in owed)  # never more than owed
    assert sum(split.leftover) == amount - sum(amount * owed[v] // total for v in owed) \
        if total else True


@settings(max_examples=100, deadline=None)
@given(villages)
def test_a_full_payment_pays_exactly_what_is_owed(owed: dict[str, int]) -> None:
    split = split_received(sum(owed.values()), owed)
    assert dict(zip(split.villages, split.fen, strict=True)) == owed


def test_exact_ties_go_to_the_lower_village_id() -> None:
    split = split_received(1, {"b": 5, "a": 5})
    assert (split.villages, split.fen, split.leftover) == (("a", "b"), (1, 0), (True, False))


def test_more_than_is_owed_is_refused() -> None:
    with pytest.raises(InputError, match="101 fen is more than the 100 fen still owed"):
        split_received(101, {"a": 60, "b": 40})


def _setup(tmp: Path) -> tuple[Path, Path, Path]:
    cfg = tmp / "alloc.yaml"
    cfg.write_text(YAML, encoding="utf-8")
    june, july = tmp / "june.csv", tmp / "july.csv"
    june.write_text(energy_csv("2020-06"), encoding="utf-8")
    july.write_text(energy_csv("2020-07"), encoding="utf-8")
    return cfg, june, july


def _ledger(path: Path) -> dict[tuple[str, str, str], tuple[int, int, int]]:
    doc = json.loads(path.read_text(encoding="utf-8"))
    return {(e["village_id"], e["period"], e["part"]): (e["entitled_fen"], e["received_fen"],
                                                        e["outstanding_fen"])
            for e in doc["entries"]}


def test_ledger_carries_entitlement_and_payments_from_run_to_run(tmp_path: Path) -> None:
    cfg, june, july = _setup(tmp_path)
    run(cfg, "2020-06", tmp_path / "06", energy_csv=june)
    first = _ledger(tmp_path / "06" / "ledger.json")
    # June's entitlement: the grid and subsidy parts of test_allocate_hand
    assert {k: v[0] for k, v in first.items() if k[2] == "grid"} == {
        ("a", "2020-06", "grid"): 4329, ("b", "2020-06", "grid"): 4329,
        ("c", "2020-06", "grid"): 1083}
    assert all(v[1] == 0 for v in first.values())
    pays = tmp_path / "payments.csv"
    pays.write_text(PAY_HEAD + "2020-07-20,p,grid,97.41,2020-06,国网2020-06\n"
                    "2021-03-15,p,subsidy,500.00,2020-06;2020-07,补贴2021-007\n",
                    encoding="utf-8")
    run(cfg, "2020-07", tmp_path / "07", energy_csv=july,
        finance=FinanceInputs(ledger_in=tmp_path / "06" / "ledger.json", payments=pays))
    led = _ledger(tmp_path / "07" / "ledger.json")
    # the grid part of June was paid in full: each village got exactly its entitlement
    assert all(led[(v, "2020-06", "grid")][2] == 0 for v in "abc")
    # July's grid part is entitled and not paid yet (450/450/0 of 32470)
    assert [led[(v, "2020-07", "grid")] for v in "abc"] == [(16235, 0, 16235),
                                                          (16235, 0, 16235), (0, 0, 0)]
    # the short subsidy payment: split by what was owed for June and July, oldest first
    owed = {"a": 5671 + 21265, "b": 5670 + 21265, "c": 1418}
    want = _reference_split(50000, owed)
    got = {v: led[(v, "2020-06", "subsidy")][1] + led[(v, "2020-07", "subsidy")][1]
           for v in "abc"}
    assert got == want and sum(got.values()) == 50000
    assert got == {"a": 24359, "b": 24359, "c": 1282}  # README's worked example
    assert [led[(v, "2020-07", "subsidy")] for v in "ab"] == [(21265, 18688, 2577),
                                                             (21265, 18689, 2576)]
    assert led[("c", "2020-06", "subsidy")] == (1418, 1282, 136)
    june_owed = {"a": 5671, "b": 5670, "c": 1418}
    assert {v: led[(v, "2020-06", "subsidy")][1] for v in "abc"} == {
        v: min(got[v], june_owed[v]) for v in "abc"}  # June first, then July
    with (tmp_path / "07" / "payments.csv").open(encoding="utf-8-sig") as f:
        rows = list(csv.DictReader(f))
    assert sum(int(r["fen"]) for r in rows if r["reference"] == "补贴2021-007") == 50000
    doc = json.loads((tmp_path / "07" / "ledger.json").read_text(encoding="utf-8"))
    assert doc["inputs"]["ledger_in"]["period"] == "2020-06"
    assert len(doc["inputs"]["ledger_in"]["sha256"]) == 64
    assert doc["totals"]["received_fen"] == 9741 + 50000
    # a payment is applied once, ever
    aug = tmp_path / "aug.csv"
    aug.write_text(energy_csv("2020-07").replace("2020-07", "2020-08"), encoding="utf-8")
    with pytest.raises(InputError, match="payment 国网2020-06: already applied in the run of "
                                         "2020-07"):
        run(cfg, "2020-08", tmp_path / "08", energy_csv=aug,
            finance=FinanceInputs(ledger_in=tmp_path / "07" / "ledger.json", payments=pays))


def test_ledger_in_is_checked_like_carry_in(tmp_path: Path) -> None:
    cfg, june, july = _setup(tmp_path)
    run(cfg, "2020-06", tmp_path / "06", energy_csv=june)
    ledger = tmp_path / "06" / "ledger.json"
    with pytest.raises(InputError, match=r"it is the ledger of 2020-06, but 2020-06 continues"):
        run(cfg, "2020-06", tmp_path / "again", energy_csv=june,
            finance=FinanceInputs(ledger_in=ledger))
    doc = json.loads(ledger.read_text(encoding="utf-8"))
    doc["entries"][0]["received_fen"] = doc["entries"][0]["entitled_fen"] + 1
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(doc), encoding="utf-8")
    with pytest.raises(InputError, match=r"entries\[0\]: received .* is more than entitled"):
        run(cfg, "2020-07", tmp_path / "07", energy_csv=july,
            finance=FinanceInputs(ledger_in=bad))
    doc["entries"][0]["received_fen"] = 2**63 - 1000
    bad.write_text(json.dumps(doc), encoding="utf-8")
    with pytest.raises(InputError, match=r"received_fen: 9223372036854774808 must be an integer"):
        run(cfg, "2020-07", tmp_path / "07", energy_csv=july,
            finance=FinanceInputs(ledger_in=bad))


def test_bad_payments_are_refused_with_file_and_line(tmp_path: Path) -> None:
    cfg, june, _ = _setup(tmp_path)
    pays = tmp_path / "p.csv"
    pays.write_text(PAY_HEAD + "2020-07-20,p,grid,97.42,2020-06,A\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"p.csv:2: payment A: 9742 fen is more than the 9741 "
                                         r"fen still owed for the grid part of 2020-06"):
        run(cfg, "2020-06", tmp_path / "o", energy_csv=june, finance=FinanceInputs(payments=pays))
    pays.write_text(PAY_HEAD + "2020-07-20,p,grid,1,2020-05,A\n"
                    "2020-07-20,q,power,+1,,\n", encoding="utf-8")
    with pytest.raises(InputError) as e:
        run(cfg, "2020-06", tmp_path / "o", energy_csv=june, finance=FinanceInputs(payments=pays))
    assert "p.csv:3: plant 'q' is not in the allocation file" in str(e.value)
    pays.write_text(PAY_HEAD + "2020-07-20,p,grid,1,2020-05,A\n", encoding="utf-8")
    with pytest.raises(InputError, match="covers 2020-05, which the ledger does not hold"):
        run(cfg, "2020-06", tmp_path / "o", energy_csv=june, finance=FinanceInputs(payments=pays))
    pays.write_text(PAY_HEAD + "2020-07-20,p,grid,1e3,2020-06,A\n"
                    "2020-07-21,p,grid,1,2020-06,A\n", encoding="utf-8")
    with pytest.raises(InputError) as e:
        run(cfg, "2020-06", tmp_path / "o", energy_csv=june, finance=FinanceInputs(payments=pays))
    assert "p.csv:2: amount_yuan '1e3' must be a plain decimal number" in str(e.value)
    assert "p.csv:3: reference 'A' is also on line 2" not in str(e.value)  # line 2 was refused
    assert not (tmp_path / "o").exists()


def test_reconciliation_against_the_grid_statement_flags_differences(tmp_path: Path) -> None:
    cfg, june, _ = _setup(tmp_path)
    statement = tmp_path / "statement.csv"
    # metered 300.003 kWh and 300.003 x 0.3247 = 97.4109741 yuan -> 9741 fen
    statement.write_text("plant_id,period,kwh,amount_yuan\np,2020-06,300.003,97.41\n"
                         "p,2020-05,1,1\n", encoding="utf-8")
    run(cfg, "2020-06", tmp_path / "ok", energy_csv=june,
        finance=FinanceInputs(grid_statement=statement))
    with (tmp_path / "ok" / "reconciliation.csv").open(encoding="utf-8-sig") as f:
        rows = list(csv.DictReader(f))
    assert rows == [{"period": "2020-06", "plant_id": "p", "statement_kwh": "300.003",
                     "metered_kwh": "300.003", "diff_kwh": "0.000", "diff_kwh_percent": "0.000",
                     "statement_grid_fen": "9741", "computed_grid_fen": "9741", "diff_fen": "0",
                     "diff_fen_percent": "0.000", "flagged": ""}]
    statement.write_text("plant_id,period,kwh,amount_yuan\np,2020-06,310,100.66\n",
                         encoding="utf-8")
    run(cfg, "2020-06", tmp_path / "off", energy_csv=june,
        finance=FinanceInputs(grid_statement=statement, threshold_percent=Decimal("1")))
    with (tmp_path / "off" / "reconciliation.csv").open(encoding="utf-8-sig") as f:
        row = next(csv.DictReader(f))
    assert (row["diff_kwh"], row["diff_kwh_percent"], row["diff_fen"], row["flagged"]) == (
        "-9.997", "-3.225", "-325", "yes")
