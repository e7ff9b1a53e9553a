"""--carry-in is checked: integers >= 0, exactly the previous period, known plants; recorded."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from hand_case import YAML, energy_csv

from allocator.errors import InputError
from allocator.periods import parse_period
from allocator.pipeline import read_carry_in, run


def _june(tmp: Path) -> Path:
    cfg, csv = tmp / "alloc.yaml", tmp / "energy-2020-06.csv"
    cfg.write_text(YAML, encoding="utf-8")
    csv.write_text(energy_csv("2020-06"), encoding="utf-8")
    run(cfg, "2020-06", tmp / "june", energy_csv=csv)
    return tmp / "june" / "allocation.json"


def _carry_file(tmp: Path, period: str, plants: list[dict], name: str = "carry.json") -> Path:
    path = tmp / name
    path.write_text(json.dumps({"period": period, "plants": plants}), encoding="utf-8")
    return path


def _refused(path: Path, period: str) -> str:
    with pytest.raises(InputError) as e:
        read_carry_in(path, parse_period(period), ["p"])
    assert str(path) in str(e.value)
    return str(e.value)


def test_carry_from_the_month_before_is_taken(tmp_path: Path) -> None:
    june = _june(tmp_path)
    carry = read_carry_in(june, parse_period("2020-07"), ["p"])
    assert carry.fen == {"p": 7500} and carry.period == "2020-06"
    assert carry.sha256 == hashlib.sha256(june.read_bytes()).hexdigest()


def test_negative_or_non_integer_carry_is_refused(tmp_path: Path) -> None:
    for bad in (-1, 1.5, "7500", True, None):
        path = _carry_file(tmp_path, "2020-06", [{"plant_id": "p", "carry_forward_fen": bad}])
        assert "plant p: carry_forward_fen" in _refused(path, "2020-07")
        assert "must be an integer >= 0" in _refused(path, "2020-07")


def test_only_the_period_just_before_of_the_same_kind_carries(tmp_path: Path) -> None:
    june = _june(tmp_path)
    # the same month again would count the carry twice
    assert "it is for period 2020-06, but 2020-06 takes the carry of the month just before " \
           "it (2020-05)" in _refused(june, "2020-06")
    assert "it is for period 2020-06, but 2020-08" in _refused(june, "2020-08")  # an old one
    assert "2020Q3 takes the carry of the quarter just before it (2020Q2)" in _refused(
        june, "2020Q3")  # a month is not a quarter
    assert "only a month, quarter or year takes a carry" in _refused(june, "2020-07-01")
    ok = [{"plant_id": "p", "carry_forward_fen": 1}]
    assert "(2019)" in _refused(_carry_file(tmp_path, "2020", ok), "2020")
    assert "not a settlement period" in _refused(
        _carry_file(tmp_path, "2020-06<2020-06-16", ok), "2020-07")
    day = _carry_file(tmp_path, "2020-06-30", ok)
    assert "it is for period 2020-06-30" in _refused(day, "2020-07")
    # across the turn of a year, for every kind
    for before, after in (("2019-12", "2020-01"), ("2019Q4", "2020Q1"), ("2019", "2020")):
        carry = read_carry_in(_carry_file(tmp_path, before, ok), parse_period(after), ["p"])
        assert carry.fen == {"p": 1}


def test_unknown_plants_and_broken_files_are_refused(tmp_path: Path) -> None:
    path = _carry_file(tmp_path, "2020-06", [{"plant_id": "zz", "carry_forward_fen": 5}])
    assert "plants[0]: unknown plant 'zz'" in _refused(path, "2020-07")
    twice = [{"plant_id": "p", "carry_forward_fen": 5}] * 2
    assert "plant p is listed twice" in _refused(_carry_file(tmp_path, "2020-06", twice),
                                                 "2020-07")
    broken = tmp_path / "broken.json"
    broken.write_text("{", encoding="utf-8")
    assert "not a previous allocation.json" in _refused(broken, "2020-07")
    assert "cannot read" in _refused(tmp_path / "missing.json", "2020-07")


def test_allocation_json_records_the_carry_in_file(tmp_path: Path) -> None:
    june = _june(tmp_path)
    cfg, csv = tmp_path / "alloc.yaml", tmp_path / "energy-2020-07.csv"
    csv.write_text(energy_csv("2020-07"), encoding="utf-8")
    run(cfg, "2020-07", tmp_path / "a", energy_csv=csv, carry_in=june)
    run(cfg, "2020-07", tmp_path / "b", energy_csv=csv, carry_in=june)
    other = _carry_file(tmp_path, "2020-06", [{"plant_id": "p", "carry_forward_fen": 100}])
    run(cfg, "2020-07", tmp_path / "c", energy_csv=csv, carry_in=other)
    run(cfg, "2020-07", tmp_path / "d", energy_csv=csv)
    docs = {k: json.loads((tmp_path / k / "allocation.json").read_text(encoding="utf-8"))
            for k in "abcd"}
    assert docs["a"]["inputs"]["carry_in"] == {
        "path": str(june), "sha256": hashlib.sha256(june.read_bytes()).hexdigest(),
        "period": "2020-06"}
    assert docs["c"]["inputs"]["carry_in"]["sha256"] == hashlib.sha256(
        other.read_bytes()).hexdigest()
    assert docs["a"]["inputs"] != docs["c"]["inputs"] != docs["d"]["inputs"]
    assert docs["d"]["inputs"]["carry_in"] is None
    # same inputs, same bytes
    for name in ("allocation.json", "allocation.csv", "plants.csv", "leftovers.csv"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
