"""The DL/T 645 identifier catalog: the shipped one loads, and a broken one is refused with
the file, the line and the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from config.dlt645_identifiers import CATALOG, load_catalog, parse_format
from config.errors import ConfigError

GOOD = """\
document: a test catalog
identifiers:
  - {di: 00 01 00 00, name: forward total, zh: 正向有功总电能, format: XXXXXX.XX, unit: kWh,
     counter: lifetime, field: e_forward_kwh}
  - {di: 00 01 01 00, name: forward tariff 1, zh: 费率1, format: XXXXXX.XX, unit: kWh,
     counter: lifetime, field: e_forward_t1_kwh}
  - {di: 00 01 FF 00, name: forward block, zh: 数据块, format: XXXXXX.XX, unit: kWh,
     block: [00 01 00 00, 00 01 01 00]}
poll: [00 01 FF 00]
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "identifiers.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_shipped_catalog_covers_what_billing_needs() -> None:
    cat = load_catalog(CATALOG)
    fields = set(cat.by_field)
    for kind in ("combined", "forward", "reverse"):
        assert f"e_{kind}_kwh" in fields
        assert {f"e_{kind}_t{n}_kwh" for n in range(1, 5)} <= fields
    assert {"p_w", "p_l1_w", "p_l2_w", "p_l3_w", "v_l1_v", "i_l3_a", "f_hz", "pf"} <= fields
    assert {0x04000101, 0x04000102} <= set(cat.identifiers)  # the meter's date and time
    assert all(cat.identifiers[di] for di in cat.poll)


def test_formats_in_the_standards_notation() -> None:
    assert parse_format("XXXXXX.XX") == ("number", 4, 2)
    assert parse_format("XX.XXXX") == ("number", 3, 4)
    assert parse_format("X.XXX") == ("number", 2, 3)
    assert parse_format("NNNNNNNNNNNN") == ("digits", 6, 0)
    assert parse_format("YYMMDDWW") == ("date", 4, 0)
    assert parse_format("hhmmss") == ("time", 3, 0)
    for bad in ("XXX.XX", "X-X", "9999"):
        with pytest.raises(ValueError, match="format"):
            parse_format(bad)


def test_a_good_catalog(tmp_path: Path) -> None:
    cat = load_catalog(write(tmp_path, GOOD))
    block = cat.identifiers[0x0001FF00]
    assert block.members == (0x00010000, 0x00010100) and block.field is None
    assert cat.poll == (0x0001FF00,)


@pytest.mark.parametrize(("old", "new", "message"), [
    ("format: XXXXXX.XX, unit: kWh,\n     counter: lifetime, field: e_forward_kwh",
     "format: XXXXX.XX, unit: kWh,\n     counter: lifetime, field: e_forward_kwh",
     r"identifiers.yaml:3: identifiers\[0\].format: .*7 digits do not fill whole bytes"),
    ("di: 00 01 01 00", "di: 00 01 00 00",
     r"identifiers.yaml:5: identifiers.1.di: 00 01 00 00 is listed twice \(first at line 3\)"),
    ("field: e_forward_t1_kwh", "field: e_forward_kwh",
     r"identifiers.yaml:6: identifiers.1.field: e_forward_kwh is already fed by line 3"),
    ("block: [00 01 00 00, 00 01 01 00]", "block: [00 01 00 00, 00 02 00 00]",
     r"identifiers.yaml:8: identifiers.2.block: member 00020000 is not a plain identifier"),
    ("poll: [00 01 FF 00]", "poll: [00 03 FF 00]",
     r"identifiers.yaml:9: poll.0: 0003FF00 is not in the catalog"),
    ("di: 00 01 FF 00", "di: 00 01 FE 00",
     r"identifiers.yaml:7: identifiers\[2\]: block 00 01 FE 00: a block has FF"),
    ("zh: 正向有功总电能", "zh: 正向有功总电能, colour: red",
     r"identifiers.yaml:3: identifiers\[0\].colour: Extra inputs"),
    ("counter: lifetime, field: e_forward_kwh", "counter: lifetime, signed: true",
     r"identifiers.yaml:3: identifiers\[0\]: a lifetime counter only rises"),
])
def test_a_broken_catalog_names_file_line_and_key(tmp_path: Path, old: str, new: str,
                                                 message: str) -> None:
    assert old in GOOD
    with pytest.raises(ConfigError, match=message):
        load_catalog(write(tmp_path, GOOD.replace(old, new, 1)))


def test_the_readme_lists_the_catalog() -> None:
    from config.dlt645_identifiers import render

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    assert render(load_catalog()) in readme, (
        "README's DL/T 645 table is stale: paste `python -m config.dlt645_identifiers`")
