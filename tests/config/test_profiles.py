"""Device profiles load, name their document, and use the same canonical fields everywhere."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from collector.alarm_catalog import load_alarm_catalog
from config.errors import ConfigError
from config.profiles import SUNSPEC_DIR, load_profile, load_registry, sunspec_model

REGISTRY = load_registry()
# sunspec-auto has no layout until a device is read (tests/collector/test_discovered_device.py)
LAID_OUT = sorted(n for n, p in REGISTRY.items() if p.sunspec_blocks or not p.sunspec_discover)
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


def test_the_generic_sunspec_profile_discovers() -> None:
    auto = REGISTRY["sunspec-auto"]
    assert auto.sunspec_discover and auto.kind == "inverter"
    assert [p.name for p in auto.points] == ["SunS"]  # nothing known before discovery


@pytest.mark.parametrize("name", LAID_OUT)
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


# -- load-time checks: what the decoder could only fail on at poll time is refused here -------
def test_a_string_must_be_identification(tmp_path: Path) -> None:
    path = write(tmp_path, "registers:\n"
                           "  - {name: sn, address: 1, type: string, size: 4, field: p_ac_w}\n")
    with pytest.raises(ConfigError, match=r"p.yaml:6: registers\[0\].*point sn: a string"):
        load_profile(path)
    ok = write(tmp_path, "registers:\n"
                         "  - {name: sn, address: 1, type: string, size: 4, role: ident}\n")
    assert load_profile(ok).by_name["sn"].role == "ident"


@pytest.mark.parametrize("role", ["faults", "status"])
def test_a_float_cannot_hold_codes(tmp_path: Path, role: str) -> None:
    path = write(tmp_path, f"registers:\n  - {{name: st, address: 1, type: f32, role: {role}}}\n")
    with pytest.raises(ConfigError, match=rf"p.yaml:6: .*point st: a float32 cannot be {role}|"
                                          rf"p.yaml:6: .*point st: a float32 cannot be role"):
        load_profile(path)


def test_a_fault_bitfield_needs_an_alarm_id_for_every_bit(tmp_path: Path) -> None:
    path = write(tmp_path, "registers:\n  - {name: alarm, address: 1, type: bitfield16, "
                           "role: faults}\n")
    with pytest.raises(ConfigError, match=r"p.yaml:6: .*point alarm: .*needs `codes:`"):
        load_profile(path)
    some = ", ".join(f"{b}: {5000 + b}" for b in range(14))
    path = write(tmp_path, "registers:\n  - {name: alarm, address: 1, type: bitfield16, "
                           f"role: faults, codes: {{{some}}}}}\n")
    with pytest.raises(ConfigError, match=r"point alarm: .*bit\(s\) 14, 15 of the 16"):
        load_profile(path)


def test_sunspec_events_are_namespaced_and_catalogued() -> None:
    """Evt1 bit b is alarm 1000 + b: never fault 0, never a Sungrow or Huawei code."""
    catalog = load_alarm_catalog()
    vendor = set(catalog.codes("sungrow-sg")) | set(catalog.codes("huawei-sun2000"))
    for model_id in (101, 102, 103, 111, 112, 113):
        model = sunspec_model(model_id)
        assert model is not None
        evt1 = next(p for p in model.points if p.name == "Evt1")
        assert evt1.codes == {b: 1000 + b for b in range(32)}, model_id
        assert not set(evt1.codes.values()) & vendor
    for profile in ("sunspec-inverter", "sunspec-auto"):
        for bit in range(16):
            info = catalog.lookup(profile, 1000 + bit)
            assert info.known and info.name_zh and info.action, (profile, bit)
    assert catalog.lookup("sunspec-inverter", 1000).name == "Ground Fault"
    same = [(a.name, a.name_zh, a.severity, a.action) for a in
            (catalog.lookup("sunspec-inverter", c) for c in catalog.codes("sunspec-inverter"))]
    twin = [(a.name, a.name_zh, a.severity, a.action) for a in
            (catalog.lookup("sunspec-auto", c) for c in catalog.codes("sunspec-auto"))]
    assert same == twin, "the two SunSpec catalogs must stay identical"


def test_a_negative_scale_is_refused_invert_says_it(tmp_path: Path) -> None:
    path = write(tmp_path, "registers:\n  - {name: p, address: 1, type: f32, scale: -0.1, "
                           "field: p_ac_w}\n")
    with pytest.raises(ConfigError, match=r"p.yaml:6: .*point p: .*invert: true"):
        load_profile(path)
    path = write(tmp_path, "registers:\n  - {name: p, address: 1, type: f32, scale: 0.1, "
                           "invert: true, field: p_ac_w}\n")
    point = load_profile(path).by_name["p"]
    assert point.invert and point.scale == -0.1  # resolved once, for decoder and simulator


def test_the_chint_meter_is_inverted_to_export_positive() -> None:
    chint = REGISTRY["chint-dtsu666"]
    assert chint.by_name["pt"].invert and chint.by_name["pt"].field == "p_w"
    assert not any(p.invert for p in REGISTRY["sunspec-meter"].points)  # W is export already


def test_bounds_must_be_ordered(tmp_path: Path) -> None:
    path = write(tmp_path, "registers:\n  - {name: t, address: 1, type: s16, min: 90, max: -40,"
                           " field: t_internal_c}\n")
    with pytest.raises(ConfigError, match=r"point t: min 90 is above max -40"):
        load_profile(path)


def test_profile_max_hole_caps_the_collector_setting(tmp_path: Path) -> None:
    huawei = REGISTRY["huawei-sun2000"]
    assert (huawei.max_registers, huawei.max_hole) == (64, 16)
    assert huawei.hole_limit(50) == 16 and huawei.hole_limit(8) == 8
    assert REGISTRY["sungrow-sg"].hole_limit(50) == 50
    with pytest.raises(ConfigError, match="max_hole"):
        load_profile(write(tmp_path, "max_hole: 200\nregisters: []\n"))


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_profiles_record_the_public_sources_they_were_checked_against(name: str) -> None:
    sources = REGISTRY[name].checked_against
    assert sources and all(len(s) > 20 for s in sources)


def test_a_ratio_must_name_a_point(tmp_path: Path) -> None:
    path = write(tmp_path, "registers:\n  - {name: a, address: 1, type: f32, ratio: [ct]}\n")
    with pytest.raises(ConfigError, match="ratio 'ct' is not a point"):
        load_profile(path)
