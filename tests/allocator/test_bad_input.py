"""Bad input a finance user could give: each is refused with a message that says where."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import numpy as np
import pytest
from hand_case import YAML, energy_csv
from typer.testing import CliRunner

from allocator.energy import EnergyTable
from allocator.energy_csv import parse_energy_csv
from allocator.errors import BoundsError, EnergyError, InputError, OutputError
from allocator.inputs import parse_inputs, require_meters
from allocator.periods import parse_period
from allocator.pipeline import allocate, run
from allocator.plausibility import check_plausible
from allocator.publish import publish

JUNE = parse_period("2020-06")
HEAD = "date,plant_id,kwh\n"


def _files(tmp: Path, yaml: str = YAML, csv: str | None = None) -> tuple[Path, Path]:
    cfg, energy = tmp / "alloc.yaml", tmp / "energy.csv"
    cfg.write_text(yaml, encoding="utf-8")
    energy.write_text(csv if csv is not None else energy_csv("2020-06"), encoding="utf-8")
    return cfg, energy


def _input_error(text: str) -> str:
    with pytest.raises(InputError) as e:
        parse_inputs(text, "alloc.yaml")
    return str(e.value)


# --- int64 bounds -------------------------------------------------------------------------

@pytest.mark.parametrize("fen", [10**30, 2**63 - 1000])
def test_a_huge_carry_in_is_refused_naming_file_and_plant(tmp_path: Path, fen: int) -> None:
    cfg, csv = _files(tmp_path)
    carry = tmp_path / "carry.json"
    carry.write_text(json.dumps({"period": "2020-05", "plants": [
        {"plant_id": "p", "carry_forward_fen": fen}]}), encoding="utf-8")
    with pytest.raises(InputError) as e:
        run(cfg, "2020-06", tmp_path / "out", energy_csv=csv, carry_in=carry)
    assert str(carry) in str(e.value)
    assert f"plant p: carry_forward_fen {fen} is above the limit of 10" in str(e.value)
    assert not (tmp_path / "out").exists()


def test_a_huge_carry_given_to_the_engine_directly_is_a_bounds_error() -> None:
    inputs = parse_inputs(YAML)
    energy = parse_energy_csv(energy_csv("2020-06"), JUNE, ["p"])
    with pytest.raises(BoundsError, match=r"plant p: carried-in 9223372036854774808 fen"):
        allocate(inputs, JUNE, energy, {"p": 2**63 - 1000})


@pytest.mark.parametrize(("old", "new", "line", "key", "what"), [
    ("capacity_kwp: 900", "capacity_kwp: 1e30", 13, "plants.0.capacity_kwp",
     "capacity_kwp 1E+30 is above the limit of 4000000 kWp"),
    ("grid: 0.3247", "grid: 123456789", 4, "tariffs.0",
     "grid tariff 123456789 is above the limit of 10 yuan/kWh"),
    ("land_rent_per_year: 3660", "land_rent_per_year: 1e30", 19, "plants.0.deductions.0",
     "land_rent_per_year 1E+30 is above the limit of 10000000000 yuan"),
])
def test_every_number_of_the_inputs_is_bounded(old: str, new: str, line: int, key: str,
                                               what: str) -> None:
    msg = _input_error(YAML.replace(old, new))
    assert f"alloc.yaml:{line}: {key}: " in msg and what in msg


def test_a_share_numerator_outside_int64_is_refused() -> None:
    from allocator.model import ShareRecord

    with pytest.raises(InputError, match="shares from 2020-01-01: a numerator is outside int64"):
        ShareRecord.of(date(2020, 1, 1), [("a", 2**63)])


# --- energy -------------------------------------------------------------------------------

def test_a_plant_in_the_energy_csv_but_not_in_the_allocation_file_is_an_error() -> None:
    text = energy_csv("2020-06") + "2020-06-02,q,500\n2020-06-03,q,500\n"
    with pytest.raises(EnergyError) as e:
        parse_energy_csv(text, JUNE, ["p"], "e.csv")
    line = text.splitlines().index("2020-06-02,q,500") + 1
    assert f"e.csv: line {line}: plant 'q' is not in the allocation file, so its revenue " \
           "would be dropped" in str(e.value)
    # rows of another period are not this allocation's business
    parse_energy_csv(energy_csv("2020-06") + "2020-07-01,q,500\n", JUNE, ["p"], "e.csv")


def test_energy_above_what_the_plant_could_produce_names_plant_day_line_and_limit(
        tmp_path: Path) -> None:
    # the hand case's plant is 900 kWp: at most 900 x 24 = 21,600 kWh a day
    text = energy_csv("2020-06").replace("2020-06-16,p,200", "2020-06-16,p,1000000000")
    cfg, csv = _files(tmp_path, csv=text)
    with pytest.raises(EnergyError) as e:
        run(cfg, "2020-06", tmp_path / "out", energy_csv=csv)
    line = text.splitlines().index("2020-06-16,p,1000000000") + 1
    assert f"{csv}:{line}: plant p on 2020-06-16: 1000000000.000 kWh in one day is more than " \
           f"the plant could produce: the limit is 21600.000 kWh (capacity 900.000 kWp x 24 h)" \
           in str(e.value)
    ok = energy_csv("2020-06").replace("2020-06-16,p,200", "2020-06-16,p,21600")
    _, csv = _files(tmp_path, csv=ok)
    run(cfg, "2020-06", tmp_path / "out", energy_csv=csv)  # exactly the ceiling is possible


def test_energy_from_a_source_without_lines_is_checked_too() -> None:
    wh = np.zeros((1, 30), dtype=np.int64)
    wh[0, 4] = 21_600_001
    table = EnergyTable(JUNE, ("p",), wh, source="influxdb http://x db=pv")
    with pytest.raises(EnergyError, match=r"influxdb http://x db=pv: plant p on 2020-06-05: "
                                          r"21600\.001 kWh in one day"):
        check_plausible(table, {"p": 900_000})


def test_energy_too_large_for_the_engine_names_source_plant_and_day() -> None:
    inputs = parse_inputs(YAML)
    wh = np.zeros((1, 30), dtype=np.int64)
    wh[0, 2] = 10**15  # 10^12 kWh: the CSV refuses it, an EnergyTable built by hand reaches here
    table = EnergyTable(JUNE, ("p",), wh, source="e.csv")
    with pytest.raises(BoundsError, match=r"e.csv: plant p on 2020-06-03: "
                                          r"1,000,000,000,000\.000 kWh is too large"):
        allocate(inputs, JUNE, table)
    with pytest.raises(EnergyError, match=r"e.csv:2: kwh '1000000000000' is 10\^12 kWh or "
                                          r"more \(plant p on 2020-06-01\)"):
        parse_energy_csv(HEAD + "2020-06-01,p,1000000000000\n", JUNE, ["p"], "e.csv")


@pytest.mark.parametrize("kwh", ["20_000.000", "２００００", "2.0243171e4", "+20000", "-0.000",
                                 "20,000", "0x10", "NaN", "Infinity", "1.", ".5", "20000 .5"])
def test_only_plain_decimal_kwh_is_accepted(kwh: str) -> None:
    with pytest.raises(EnergyError) as e:
        parse_energy_csv(HEAD + f'2020-06-01,p,"{kwh}"\n', JUNE, ["p"], "e.csv")
    assert f"e.csv:2: kwh {kwh!r} must be a plain decimal number >= 0" in str(e.value)
    assert "(plant p on 2020-06-01)" not in str(e.value)  # said inside the parentheses
    assert "plant p on 2020-06-01)" in str(e.value)


def test_plain_decimals_are_read_exactly() -> None:
    rows = "".join(f"{d},p,{v}\n" for d, v in zip(
        JUNE.dates(), ["20000.125", "0", "007", "1.5", "0.001", " 3.25 "] + ["0"] * 24,
        strict=True))
    table = parse_energy_csv(HEAD + rows, JUNE, ["p"])
    assert table.wh[0, :6].tolist() == [20_000_125, 0, 7_000, 1_500, 1, 3_250]


def test_lenient_dates_are_refused() -> None:
    for day in ("20200601", "2020-W23-1"):
        with pytest.raises(EnergyError, match=f"date '{day}' is not YYYY-MM-DD"):
            parse_energy_csv(HEAD + f"{day},p,1\n", JUNE, ["p"], "e.csv")


# --- periods not ended --------------------------------------------------------------------

def test_a_period_not_ended_yet_is_refused_without_provisional(tmp_path: Path) -> None:
    cfg, csv = _files(tmp_path)
    with pytest.raises(InputError) as e:
        run(cfg, "2020-06", tmp_path / "out", energy_csv=csv, today=date(2020, 6, 30))
    assert "period 2020-06 has not ended yet: it runs 2020-06-01..2020-06-30 and today is " \
           "2020-06-30 (Asia/Shanghai)" in str(e.value) and "--provisional" in str(e.value)
    with pytest.raises(InputError, match="period 2020-06 has not started yet"):
        run(cfg, "2020-06", tmp_path / "out", energy_csv=csv, today=date(2020, 5, 1))
    run(cfg, "2020-06", tmp_path / "out", energy_csv=csv, today=date(2020, 7, 1))  # ended


def test_provisional_outputs_are_marked_in_every_file(tmp_path: Path) -> None:
    from openpyxl import load_workbook

    cfg, csv = _files(tmp_path)
    out = tmp_path / "out"
    run(cfg, "2020-06", out, energy_csv=csv, provisional=True, today=date(2020, 6, 20))
    for name in ("allocation.csv", "plants.csv", "leftovers.csv"):
        rows = (out / name).read_text(encoding="utf-8-sig").splitlines()[1:]
        assert rows and all(r.startswith("2020-06 (provisional),") for r in rows), name
    ledger = (out / "ledger.csv").read_text(encoding="utf-8-sig").splitlines()[1:]
    assert ledger and all(",2020-06 (provisional)," in r for r in ledger)
    assert json.loads((out / "ledger.json").read_text(encoding="utf-8"))["provisional"] is True
    doc = json.loads((out / "allocation.json").read_text(encoding="utf-8"))
    assert doc["provisional"] is True and doc["period"] == "2020-06 (provisional)"
    for path in (out / "statements").iterdir():
        assert "provisional" in load_workbook(path).active["C1"].value
    # and a provisional result is never carried into the next period
    _, july = _files(tmp_path, csv=energy_csv("2020-07"))
    with pytest.raises(InputError, match="it is a provisional result"):
        run(cfg, "2020-07", tmp_path / "july", energy_csv=july, carry_in=out / "allocation.json")


def test_the_cli_takes_provisional(tmp_path: Path) -> None:
    from pvrelief.cli import app

    cfg, csv = _files(tmp_path)
    # a June far ahead (zip timestamps in the statements stop at 2107)
    csv.write_text(energy_csv("2020-06").replace("2020-0", "2098-0"), encoding="utf-8")
    args = ["allocate", "--config", str(cfg), "--period", "2098-06", "--energy-csv", str(csv),
            "--out", str(tmp_path / "out")]
    refused = CliRunner().invoke(app, args)
    assert refused.exit_code == 2 and "has not started yet" in refused.output
    done = CliRunner().invoke(app, [*args, "--provisional"])
    assert done.exit_code == 0, done.output
    assert "2098-06 (provisional)" in done.output


# --- atomic outputs -----------------------------------------------------------------------

def test_a_rerun_never_leaves_the_previous_run_s_files(tmp_path: Path) -> None:
    cfg, csv = _files(tmp_path)
    out = tmp_path / "out"
    run(cfg, "2020-06", out, energy_csv=csv)
    (out / "statements" / "gone.xlsx").write_bytes(b"a village that has left")
    run(cfg, "2020-06", out, energy_csv=csv)
    assert sorted(p.name for p in (out / "statements").iterdir()) == ["a.xlsx", "b.xlsx",
                                                                      "c.xlsx"]
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    assert out.stat().st_mode & 0o777 == fresh.stat().st_mode & 0o777  # as mkdir makes it


def test_a_failure_midway_leaves_the_previous_result_untouched(tmp_path: Path) -> None:
    out = tmp_path / "out"
    publish(out, {"allocation.json": b"{}", "allocation.csv": b"first run"})
    # "statements" as a file and as a folder: writing fails after the first files are written
    with pytest.raises(OutputError, match=f"cannot write to {out}"):
        publish(out, {"allocation.json": b"{}", "statements": b"x",
                      "statements/a.xlsx": b"y"})
    assert sorted(p.name for p in out.iterdir()) == ["allocation.csv", "allocation.json"]
    assert (out / "allocation.csv").read_bytes() == b"first run"
    assert [p.name for p in tmp_path.iterdir()] == ["out"]  # no temporary folder left


def test_a_folder_that_is_not_a_previous_output_is_never_replaced(tmp_path: Path) -> None:
    cfg, csv = _files(tmp_path)
    home = tmp_path / "home"
    home.mkdir()
    (home / "thesis.docx").write_bytes(b"years of work")
    with pytest.raises(OutputError, match="refusing to replace it"):
        run(cfg, "2020-06", home, energy_csv=csv)
    assert [p.name for p in home.iterdir()] == ["thesis.docx"]


# --- where problems are reported ----------------------------------------------------------

def test_a_bad_tariff_is_reported_at_the_tariff_record_s_line() -> None:
    msg = _input_error(YAML.replace("grid: 0.3247", "grid: 0.32475"))
    assert "alloc.yaml:4: tariffs.0: grid tariff 0.32475 has more than 4 decimals" in msg
    own = YAML.replace("    deductions:", "    tariffs:\n      - {from: 2016-01-01, grid: 0.3247,"
                                          " subsidy: 0.42531}\n    deductions:")
    msg = _input_error(own)
    assert "alloc.yaml:19: plants.0.tariffs.0: plant p: subsidy 0.42531 has more than 4 " \
           "decimals" in msg


def test_share_and_tariff_errors_of_one_plant_are_all_reported() -> None:
    text = YAML.replace("{a: 450, b: 450, c: 0}", "{a: 450, b: 400, c: 0}")
    text = text.replace("    deductions:", "    tariffs:\n      - {from: 2016-01-01, grid: "
                                          "0.32475, subsidy: 0.4253}\n    deductions:\n"
                                          "      - {from: 2020-03-01, insurance_per_year: "
                                          "0.001}")
    msg = _input_error(text)
    assert "alloc.yaml:17: plants.0.shares.1: plant p: shares on 2020-06-16 onward cover " \
           "94.44%" in msg
    assert "alloc.yaml:19: plants.0.tariffs.0: plant p: grid tariff 0.32475 has more than 4 " \
           "decimals" in msg
    assert "alloc.yaml:21: plants.0.deductions.0: plant p: insurance_per_year 0.001 has more " \
           "than 2 decimals" in msg


def test_meter_is_needed_only_for_energy_from_influxdb(tmp_path: Path) -> None:
    text = YAML.replace("    meter: p-meter\n", "")
    cfg, csv = _files(tmp_path, yaml=text)
    run(cfg, "2020-06", tmp_path / "out", energy_csv=csv)
    with pytest.raises(InputError, match=r"energy from InfluxDB needs each plant's settlement "
                                         r"meter: give `meter:` for plant\(s\) p"):
        require_meters(parse_inputs(text))
    require_meters(parse_inputs(YAML))
