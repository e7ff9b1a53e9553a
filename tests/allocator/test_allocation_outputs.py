"""`pvrelief allocate` end to end: CSV, plants summary, JSON, XLSX; reruns are byte-identical."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import typer
from hand_case import YAML, energy_csv
from openpyxl import load_workbook
from typer.testing import CliRunner

from allocator.outputs import CSV_COLUMNS, escape_cell
from pvrelief.cmd_allocate import register

EXAMPLE = Path(__file__).resolve().parents[2] / "config/examples/allocation-gonghe.yaml"


def _app() -> typer.Typer:
    app = typer.Typer()
    register(app)

    @app.command()
    def _other() -> None:  # a second command keeps typer from flattening `allocate`
        """unused"""

    return app


def _allocate(tmp: Path, out: str, yaml_text: str = YAML, month: str = "2020-06") -> Path:
    cfg, csv = tmp / "alloc.yaml", tmp / f"energy-{month}.csv"
    cfg.write_text(yaml_text, encoding="utf-8")
    csv.write_text(energy_csv(month), encoding="utf-8")
    result = CliRunner().invoke(_app(), ["allocate", "--config", str(cfg), "--period", month,
                                         "--energy-csv", str(csv), "--out", str(tmp / out)])
    assert result.exit_code == 0, result.output
    return tmp / out


def test_allocation_csv_has_bom_exact_columns_and_rows(tmp_path: Path) -> None:
    out = _allocate(tmp_path, "o")
    raw = (out / "allocation.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    lines = raw.decode("utf-8-sig").splitlines()
    assert lines[0].split(",") == [*CSV_COLUMNS, "usage_collective_fen",
                                   "usage_jobs_and_rewards_fen"]
    assert lines[1:] == [
        "2020-06,p,a,甲村,133.335,10000,4329,5671,10000,0,0,0",
        "2020-06,p,b,乙村,133.334,9999,4329,5670,9999,0,,",
        "2020-06,p,c,丙村,33.334,2501,1083,1418,2501,0,0,0",
    ]


def test_rerun_gives_byte_identical_files(tmp_path: Path) -> None:
    first, second = _allocate(tmp_path, "one"), _allocate(tmp_path, "two")

    def digest(folder: Path) -> dict[str, str]:
        return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
                for p in sorted(folder.rglob("*")) if p.is_file()}

    names = digest(first)
    assert {"allocation.csv", "plants.csv", "allocation.json", "leftovers.csv",
            "statements/a.xlsx"} <= set(names)
    assert names == digest(second)


def test_json_records_hashes_version_carry_and_every_leftover_fen(tmp_path: Path) -> None:
    out = _allocate(tmp_path, "o")
    doc = json.loads((out / "allocation.json").read_text(encoding="utf-8"))
    assert doc["inputs"]["config"]["sha256"] == hashlib.sha256(
        (tmp_path / "alloc.yaml").read_bytes()).hexdigest()
    assert doc["inputs"]["energy"]["sha256"] == hashlib.sha256(
        (tmp_path / "energy-2020-06.csv").read_bytes()).hexdigest()
    assert doc["code"] == {"package": "pvrelief", "version": "0.1.0"}
    plant = doc["plants"][0]
    assert plant["grid_exact_fen"] == "9741.09741"
    assert plant["carry_forward_fen"] == 7500
    assert plant["deductions_applied_fen"]["land_rent"] == 22500
    left = {(x["part"], x["village_id"]) for x in doc["leftover_fen"]}
    assert left == {("grid", "c"), ("subsidy", "c"), ("subsidy", "a")}
    assert all(x["reason"].startswith("largest remainder") for x in doc["leftover_fen"])


def test_carry_in_from_the_previous_allocation_json(tmp_path: Path) -> None:
    june = _allocate(tmp_path, "june")
    cfg, csv = tmp_path / "alloc.yaml", tmp_path / "energy-2020-07.csv"
    csv.write_text(energy_csv("2020-07"), encoding="utf-8")
    result = CliRunner().invoke(_app(), [
        "allocate", "--config", str(cfg), "--period", "2020-07", "--energy-csv", str(csv),
        "--out", str(tmp_path / "july"), "--carry-in", str(june / "allocation.json")])
    assert result.exit_code == 0, result.output
    plants = (tmp_path / "july" / "plants.csv").read_text(encoding="utf-8-sig").splitlines()
    row = dict(zip(plants[0].split(","), plants[1].split(","), strict=True))
    assert (row["carried_in_fen"], row["deductions_fen"], row["net_fen"]) == ("7500", "38500",
                                                                              "36500")


def test_formula_like_cells_are_escaped(tmp_path: Path) -> None:
    assert [escape_cell(x) for x in ("=1+2", "+1", "-1", "@SUM(A1)", "村", "1")] == [
        "'=1+2", "'+1", "'-1", "'@SUM(A1)", "村", "1"]
    evil = YAML.replace("name: 甲村", 'name: "=HYPERLINK(\\"http://x\\")"').replace(
        "name: 乙村", 'name: "-2+3"').replace("name: 丙村", 'name: "@cmd"')
    out = _allocate(tmp_path, "o", evil)
    rows = (out / "allocation.csv").read_text(encoding="utf-8-sig").splitlines()[1:]
    assert [r.split(",")[3] for r in rows] == ['"\'=HYPERLINK(""http://x"")"', "'-2+3", "'@cmd"]
    sheet = load_workbook(out / "statements" / "a.xlsx").active
    assert sheet["A1"].value.startswith("'=HYPERLINK")
    assert sheet["A1"].data_type == "s"


def test_statement_has_chinese_headers_english_below_and_yuan(tmp_path: Path) -> None:
    out = _allocate(tmp_path, "o")
    sheet = load_workbook(out / "statements" / "a.xlsx").active
    assert sheet["A3"].value == "期间" and sheet["A4"].value == "Period"
    assert sheet["H3"].value == "净收益（元）" and sheet["H4"].value == "Net (yuan)"
    assert [c.value for c in sheet[5]][:8] == ["2020-06", "p", 133.335, 100.0, 43.29, 56.71,
                                                100.0, 0.0]
    assert sheet["A6"].value == "合计 Total"


def test_example_config_runs(tmp_path: Path) -> None:
    csv = tmp_path / "energy.csv"
    lines = ["date,plant_id,kwh"]
    from allocator.periods import parse_period

    for day in parse_period("2020-06").dates():
        lines += [f"{day},gonghe-central,91234.567", f"{day},village-a,1401.2",
                  f"{day},village-b,1388"]
    csv.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = CliRunner().invoke(_app(), ["allocate", "--config", str(EXAMPLE), "--period",
                                         "2020-06", "--energy-csv", str(csv), "--out",
                                         str(tmp_path / "o")])
    assert result.exit_code == 0, result.output
    rows = (tmp_path / "o" / "allocation.csv").read_text(encoding="utf-8-sig").splitlines()
    assert len(rows) == 1 + 9 + 1 + 1  # nine villages share the central plant in June


def test_errors_exit_2_with_a_message(tmp_path: Path) -> None:
    cfg = tmp_path / "alloc.yaml"
    cfg.write_text(YAML, encoding="utf-8")
    result = CliRunner().invoke(_app(), ["allocate", "--config", str(cfg), "--period",
                                         "2020-13", "--energy-csv", str(cfg), "--out",
                                         str(tmp_path / "o")])
    assert result.exit_code == 2
    assert "month must be 01..12" in result.output
