"""Validation: every error names the plant, the days and the file line."""

from __future__ import annotations

from pathlib import Path

import pytest
from hand_case import YAML

from allocator.compile import compile_period
from allocator.energy_csv import load_energy_csv, parse_energy_csv
from allocator.errors import EnergyError, InputError
from allocator.inputs import load_inputs, parse_inputs
from allocator.periods import parse_period


def _error(text: str) -> str:
    with pytest.raises(InputError) as e:
        parse_inputs(text, "alloc.yaml")
    return str(e.value)


def test_valid_inputs_are_exact_integers() -> None:
    inputs = parse_inputs(YAML)
    plant = inputs.plants["p"]
    assert plant.share_basis == 900_000 and plant.capacity_w == 900_000
    assert plant.shares[1].numerators == (("a", 450_000), ("b", 450_000), ("c", 0))
    assert (plant.tariffs[0].grid_u, plant.tariffs[0].subsidy_u) == (3247, 4253)
    assert plant.deductions[0].land_rent_fen_per_year == 366_000
    assert inputs.villages["b"].usage_split == ()
    assert inputs.villages["a"].usage_split == (("collective", 60), ("jobs_and_rewards", 40))


def test_shares_not_covering_100_percent_name_plant_days_and_line() -> None:
    msg = _error(YAML.replace("{a: 450, b: 450, c: 0}", "{a: 450, b: 400, c: 0}"))
    assert "alloc.yaml:17: plants.0.shares.1:" in msg
    assert "plant p: shares on 2020-06-16 onward cover 94.44% (850.000kW of 900.000kW)" in msg
    msg = _error(YAML.replace("{a: 300, b: 300, c: 300}", "{a: 300, b: 300, c: 301}"))
    assert "plant p: shares on 2020-01-01..2020-06-15 cover 100.11%" in msg


def test_fraction_shares_must_sum_to_one() -> None:
    text = YAML.replace("kw: {a: 300, b: 300, c: 300}", "fraction: {a: 0.5, b: 0.25, c: 0.2}")
    text = text.replace("kw: {a: 450, b: 450, c: 0}", "fraction: {a: 0.5, b: 0.5}")
    assert "shares on 2020-01-01..2020-06-15 cover 95.00%" in _error(text)


def test_other_share_mistakes() -> None:
    assert "unknown village(s) zz" in _error(YAML.replace("c: 0}", "c: 0, zz: 0}"))
    assert "more than 3 decimals" in _error(YAML.replace("a: 300,", "a: 300.0001,"))
    assert "mix `kw` and `fraction`" in _error(
        YAML.replace("kw: {a: 450, b: 450, c: 0}", "fraction: {a: 0.5, b: 0.5}"))
    assert "two shares records start on 2020-06-16" in _error(
        YAML.replace("- {from: 2020-01-01, kw", "- {from: 2020-06-16, kw"))
    text = YAML.replace("kind: multi-village", "kind: village")
    assert "a village plant pays exactly one village, but the shares on 2020-01-01..2020-06-15 " \
           "pay 3" in _error(text)


def test_schema_errors_carry_the_yaml_line() -> None:
    msg = _error(YAML.replace("    capacity_kwp: 900\n", "    capacity_kwp: -5\n"))
    assert "alloc.yaml:13: plants.0.capacity_kwp: Input should be greater than 0" in msg
    msg = _error(YAML.replace("grid: 0.3247", "grid: 0.32475"))
    assert "grid tariff 0.32475 has more than 4 decimals" in msg
    assert "alloc.yaml:4: tariffs.0.colour: Extra inputs are not permitted" in _error(
        YAML.replace("subsidy: 0.4253}", "subsidy: 0.4253, colour: red}"))


def test_a_period_before_the_first_share_or_tariff_names_plant_and_days() -> None:
    inputs = parse_inputs(YAML)
    period = parse_period("2019-12")
    energy = parse_energy_csv("date,plant_id,kwh\n" + "".join(
        f"{d},p,1\n" for d in period.dates()), period, ["p"])
    with pytest.raises(InputError, match=r"plant p: no share in force on 2019-12-01\.\.2019-12-31"):
        compile_period(inputs, period, energy)


def test_energy_csv_errors_name_plant_days_and_line() -> None:
    period = parse_period("2020-06")
    head = "date,plant_id,kwh\n"
    rows = "".join(f"{d},p,1\n" for d in period.dates() if d.day not in (3, 4, 5, 9))
    with pytest.raises(EnergyError, match=r"plant p: no energy on 2020-06-03\.\.2020-06-05, "
                                          r"2020-06-09"):
        parse_energy_csv(head + rows, period, ["p"], "e.csv")
    full = "".join(f"{d},p,1\n" for d in period.dates())
    with pytest.raises(EnergyError, match=r"e.csv:32: second row for plant p on 2020-06-01"):
        parse_energy_csv(head + full + "2020-06-01,p,2\n", period, ["p"], "e.csv")
    with pytest.raises(EnergyError, match=r"e.csv:2: kwh '1.0001' has more than 3 decimals"):
        parse_energy_csv(head + "2020-06-01,p,1.0001\n", period, ["p"], "e.csv")
    with pytest.raises(EnergyError, match=r"e.csv:2: kwh '-1' must be"):
        parse_energy_csv(head + "2020-06-01,p,-1\n", period, ["p"], "e.csv")
    with pytest.raises(EnergyError, match="header must be date,plant_id,kwh"):
        parse_energy_csv("day,plant,kwh\n", period, ["p"], "e.csv")


def test_period_parsing() -> None:
    assert parse_period("2020-06").days == 30
    assert parse_period("2020Q1").days == 91 and parse_period("2021Q1").days == 90
    assert parse_period("2020").days == 366 and parse_period("2020").days_in_year == 366
    assert parse_period("2020-12").next().label == "2021-01"
    assert parse_period("2020Q4").next().label == "2021Q1"
    for bad in ("2020-13", "2020Q5", "20-06", "June"):
        with pytest.raises(InputError):
            parse_period(bad)


def test_energy_csv_must_be_utf8_with_or_without_bom(tmp_path: Path) -> None:
    period = parse_period("2020-06")
    text = "date,plant_id,kwh\n" + "".join(f"{d},p,1\n" for d in period.dates())
    text += "2020-07-01,其他电站,5\n"  # a row of another plant, in Chinese
    for name, data in (("plain.csv", text.encode("utf-8")),
                       ("bom.csv", text.encode("utf-8-sig"))):
        (tmp_path / name).write_bytes(data)
        assert load_energy_csv(tmp_path / name, period, ["p"]).wh.sum() == 30_000
    gbk = tmp_path / "gbk.csv"
    gbk.write_bytes(text.encode("gbk"))  # Excel's "CSV" on Chinese Windows
    offset = len(text.encode("utf-8").split("其".encode())[0])
    with pytest.raises(EnergyError) as e:
        load_energy_csv(gbk, period, ["p"])
    assert f"{gbk}:32: not UTF-8 (byte 0x{'其'.encode('gbk')[0]:02x} at byte offset " \
           f"{offset})" in str(e.value)
    assert "save the file as UTF-8" in str(e.value)
    (tmp_path / "gbk-bom.csv").write_bytes(b"\xef\xbb\xbf" + text.encode("gbk"))
    with pytest.raises(EnergyError, match=rf"gbk-bom.csv:32: .* byte offset {offset + 3}\)"):
        load_energy_csv(tmp_path / "gbk-bom.csv", period, ["p"])


def test_unknown_timezone_names_file_and_line(tmp_path: Path) -> None:
    msg = _error("timezone: Asia/Shangai\n" + YAML)
    assert "alloc.yaml:1: timezone: " in msg and "'Asia/Shangai' is not a known IANA time zone" \
        in msg
    assert "alloc.yaml:1: timezone:" in _error("timezone: ../etc/passwd\n" + YAML)
    path = tmp_path / "main.yaml"
    path.write_text("site: x\nallocation:\n  timezone: Mars/Olympus\n" + "".join(
        f"  {line}\n" for line in YAML.strip().splitlines()), encoding="utf-8")
    with pytest.raises(InputError, match=rf"{path}:3: allocation.timezone: .*'Mars/Olympus'"):
        load_inputs(path)
    assert parse_inputs("timezone: UTC\n" + YAML).timezone == "UTC"
