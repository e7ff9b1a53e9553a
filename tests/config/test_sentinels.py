"""The "not implemented" table is data: loaded, validated, and checked by profiles."""

from __future__ import annotations

from pathlib import Path

import pytest

from config.errors import ConfigError
from config.profiles import load_profile
from config.sentinels import load_sentinels, sentinel_table


def test_the_project_table_has_the_documented_families() -> None:
    table = sentinel_table()
    assert {"sunspec", "huawei", "none"} <= set(table.families)
    assert table.patterns("sunspec", "int16") == (0x8000,)
    assert table.patterns("huawei", "int32") == (0x7FFFFFFF,)
    assert table.patterns("sunspec", "acc32") == (0,)
    assert table.patterns("none", "uint16") == ()
    assert all(len(s) > 3 for s in table.sources.values())  # each family names its document


def _table(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "families.yaml"
    path.write_text("families:\n  none: {source: no doc, types: {}}\n" + body)
    return path


def test_a_pattern_wider_than_its_type_names_the_line(tmp_path: Path) -> None:
    path = _table(tmp_path, "  v:\n    source: the doc\n    types:\n      int16: [0x18000]\n")
    with pytest.raises(ConfigError, match=r"families.yaml:3: families.v.*16-bit"):
        load_sentinels(path)


def test_a_negative_pattern_is_refused(tmp_path: Path) -> None:
    path = _table(tmp_path, "  v:\n    source: the doc\n    types:\n      int16: [-32768]\n")
    with pytest.raises(ConfigError, match="unsigned"):
        load_sentinels(path)


def test_floats_have_no_table_entry(tmp_path: Path) -> None:
    path = _table(tmp_path, "  v:\n    source: the doc\n    types:\n      float32: [0]\n")
    with pytest.raises(ConfigError, match="NaN"):
        load_sentinels(path)


def test_an_unknown_type_is_refused(tmp_path: Path) -> None:
    path = _table(tmp_path, "  v:\n    source: the doc\n    types:\n      uint17: [0]\n")
    with pytest.raises(ConfigError, match="uint17"):
        load_sentinels(path)


def test_the_none_family_must_exist(tmp_path: Path) -> None:
    path = tmp_path / "families.yaml"
    path.write_text("families:\n  v: {source: the doc}\n")
    with pytest.raises(ConfigError, match="'none'"):
        load_sentinels(path)


def _profile(tmp_path: Path, family: str, point: str) -> Path:
    path = tmp_path / "p.yaml"
    path.write_text(f"name: p\nkind: inverter\nvendor: v\ndocument: the doc\nsentinels: {family}\n"
                    f"registers:\n  - {point}\n")
    return path


def test_a_profile_naming_an_unknown_family_names_the_line(tmp_path: Path) -> None:
    path = _profile(tmp_path, "acme", "{name: a, address: 1, type: u16}")
    with pytest.raises(ConfigError, match=r"p.yaml:5: sentinels.*'acme'.*huawei"):
        load_profile(path)


def test_a_point_sentinel_must_fit_its_type(tmp_path: Path) -> None:
    path = _profile(tmp_path, "none", "{name: a, address: 1, type: u16, sentinel: 0x10000}")
    with pytest.raises(ConfigError, match="does not fit a uint16"):
        load_profile(path)


def test_a_point_can_say_every_value_is_valid(tmp_path: Path) -> None:
    path = _profile(tmp_path, "huawei", "{name: a, address: 1, type: bitfield16, sentinel: none}")
    assert load_profile(path).by_name["a"].sentinel == "none"
