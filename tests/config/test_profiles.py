"""Device profiles load, name their document, and use the same canonical fields everywhere."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from collector.alarm_catalog import load_alarm_catalog
from config.errors import ConfigError
from config.profiles import SUNSPEC_DIR, load_profile, load_registry, sunspec_model

REGISTRY = load_registry()
INVERTER_FIELDS = re.compile(
    r"p_ac_w|p_dc_w|e_total_kwh|e_day_kwh|v_ac_l[123]_v|i_ac_l[123]_a|i_ac_a|f_ac_hz|"
    r"pv\d+_(v_v|i_a|p_w)|v_dc_v|i_dc_a|t_internal_c|t_heatsink_c|r_insulation_mohm")
METER_FIELDS = re.compile(r"p_w|e_export_kwh|e_import_kwh|v_l[123]_v|i_l[123]_a|i_a|f_hz")
STATES = {"off", "sleeping", "starting", "running", "throttled", "shutting_down", "fault",
          "standby"}


def test_the_vendor_profiles_are_there() -> None:
    assert {"huawei-sun2000", "sungrow-sg", "chint-dtsu666", "sunspec-inverter",
            "sunspec-meter"} <= set(REGISTRY)


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_fields_are_canonical(name: str) -> None:
    profile = REGISTRY[name]
    pattern = INVERTER_FIELDS if profile.kind == "inverter" else METER_FIELDS
    for f in profile.fields:
        assert pattern.fullmatch(f), f"{name}: {f!r} is not a canonical {profile.kind} field"
    assert profile.document.strip()
    text = profile.source.read_text(encoding="utf-8")
    assert "Follows:" in text, f"{name}: say which document the map follows, at the top"


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_counters_and_states(name: str) -> None:
    profile = REGISTRY[name]
    counters = {p.field: p.counter for p in profile.points if p.field and p.counter}
    if profile.kind == "inverter":
        assert counters["e_total_kwh"] == "lifetime"
        assert counters.get("e_day_kwh", "daily") == "daily"
        status = [p for p in profile.points if p.role == "status"]
        assert len(status) == 1 and status[0].enum
        assert set(status[0].enum.values()) <= STATES
        assert {"running", "sleeping", "fault"} <= set(status[0].enum.values())
    else:
        assert counters["e_export_kwh"] == "lifetime"


def test_sungrow_documented_addresses_are_shifted_to_the_wire() -> None:
    sg = REGISTRY["sungrow-sg"]
    assert sg.address_offset == -1
    daily = next(p for p in sg.points if p.field == "e_day_kwh")
    assert daily.address == 5002 and sg.document_address(daily.address) == 5003
    total = next(p for p in sg.points if p.field == "e_total_kwh")
    assert (total.table, total.word_order) == ("input", "little")


def test_huawei_alarm_bits_are_all_catalogued() -> None:
    catalog = load_alarm_catalog()
    huawei = REGISTRY["huawei-sun2000"]
    alarm_points = [p for p in huawei.points if p.role == "faults"]
    assert [p.address for p in alarm_points] == [32008, 32009, 32010]
    ids = [code for p in alarm_points for code in (p.codes or {}).values()]
    assert len(ids) == 48 == len(set(ids))
    for code in ids:
        info = catalog.lookup("huawei-sun2000", code)
        assert info.known and info.name_zh and info.action, code
    for code in (2011, 2013, 2015, 2032, 2034, 2062, 2063, 2064):
        assert code in ids
    assert catalog.lookup("huawei-sun2000", 2062).name == "Low Insulation Resistance"
    assert catalog.lookup("huawei-sun2000", 2063).severity == "minor"


def test_sungrow_fault_codes_are_catalogued() -> None:
    catalog = load_alarm_catalog()
    for code in (2, 3, 14, 15, 36, 37, 39):
        assert catalog.lookup("sungrow-sg", code).known, code
    unknown = catalog.lookup("sungrow-sg", 999)
    assert not unknown.known and "999" in unknown.name


@pytest.mark.parametrize("path", sorted(SUNSPEC_DIR.glob("model_*.yaml")), ids=lambda p: p.stem)
def test_sunspec_model_lengths_add_up(path: Path) -> None:
    model_id = int(path.stem.removeprefix("model_"))
    model = sunspec_model(model_id)
    assert model is not None and model.id == model_id
    assert sum(p.size or 0 for p in model.points) == model.length
    if model.repeating:
        assert sum(p.size or 0 for p in model.repeating.points) == model.repeating.length


def write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "p.yaml"
    path.write_text("name: p\nkind: inverter\nvendor: v\ndocument: the doc\n" + body)
    return path


def test_a_point_in_an_unreadable_range_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "unreadable: [{start: 10, end: 19}]\n"
                           "registers:\n  - {name: a, address: 12, type: u16, field: p_ac_w}\n")
    with pytest.raises(ConfigError, match="unreadable"):
        load_profile(path)


def test_a_wrong_size_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "registers:\n  - {name: a, address: 1, type: u32, size: 1}\n")
    with pytest.raises(ConfigError, match=r"p.yaml:6: registers\[0\].*2 registers, not 1"):
        load_profile(path)


def test_hex_codes_as_documents_write_them(tmp_path: Path) -> None:
    path = write(tmp_path, "registers:\n  - name: st\n    address: 1\n    type: u16\n"
                           "    role: status\n    enum: {0x0200: running, 0xA000: sleeping}\n")
    assert load_profile(path).by_name["st"].enum == {0x0200: "running", 0xA000: "sleeping"}


def test_a_sunspec_profile_needs_models_or_discovery(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="discover"):
        load_profile(write(tmp_path, "sunspec: {base: 40000}\n"))
    with pytest.raises(ConfigError, match="model_64999"):
        load_profile(write(tmp_path, "sunspec: {models: [{id: 64999}]}\n"))
    stepped = load_profile(write(tmp_path, "sunspec: {models: [{id: 64999, length: 4}]}\n"))
    assert [b.length for b in stepped.sunspec_blocks] == [4]
