"""The simulator's register image of every profile decodes back to the values it was given."""

from __future__ import annotations

import re

import pytest

from collector.sources.modbus.decode import DeviceDecoder
from config.profiles import Point, Profile, load_registry
from simulator.image import RegisterImage

REGISTRY = load_registry()
# profiles with a register layout of their own (sunspec-auto gets one only from a device:
# tests/collector/test_discovered_device.py)
LAID_OUT = sorted(n for n, p in REGISTRY.items() if not (p.sunspec_discover
                                                         and not p.sunspec_blocks))

# A plausible value for each canonical field, by name pattern (first match wins).
TYPICAL = [
    (r"p_ac_w|p_w", 52340.0), (r"p_dc_w", 53910.0), (r"pv\d+_p_w", 6500.0),
    (r"e_total_kwh|e_export_kwh", 123456.7), (r"e_day_kwh", 187.3), (r"e_import_kwh", 1523.2),
    (r"v_ac_l\d_v|v_l\d_v", 230.5), (r"i_ac_l\d_a|i_l\d_a", 75.7), (r"i_ac_a|i_a", 227.1),
    (r"f_ac_hz|f_hz", 50.01), (r"pv\d+_v_v|v_dc_v", 620.5), (r"pv\d+_i_a", 10.5),
    (r"i_dc_a", 86.9), (r"t_internal_c", 41.2), (r"t_heatsink_c", 45.3),
    (r"r_insulation_mohm", 3.12),
]


def typical(field: str) -> float:
    for pattern, value in TYPICAL:
        if re.fullmatch(pattern, field):
            return value
    raise AssertionError(f"no typical value for canonical field {field!r}: a new name?")


def resolution(profile: Profile, image: RegisterImage, p: Point) -> float:
    if p.type == "float32":
        return 0.0
    sf = 0
    if p.sf:
        words = image.read(p.table, profile.by_name[p.sf].address, 1)
        assert words is not None
        sf = words[0] - 0x10000 if words[0] >= 0x8000 else words[0]
    return abs(p.scale * p.factor) * 10.0**sf


def decode_image(profile: Profile, image: RegisterImage):  # type: ignore[no-untyped-def]
    decoder = DeviceDecoder(profile)
    blocks = []
    for r in decoder.reads:
        words = image.read(r.table, r.address, r.count)
        assert words is not None, f"{profile.name}: the simulator refuses the planned read {r}"
        blocks.append(words)
    return decoder.decode(blocks)


@pytest.mark.parametrize("name", LAID_OUT)
def test_values_round_trip(name: str) -> None:
    profile = REGISTRY[name]
    image = RegisterImage(profile)
    values = {f: typical(f) for f in profile.fields}
    for f, v in values.items():
        image.set_field(f, v)
    got = decode_image(profile, image)
    for f, want in values.items():
        p = image.point_for_field(f)
        assert p is not None
        tol = resolution(profile, image, p) / 2 + 1e-9
        assert got.fields[f] == pytest.approx(want, rel=1e-6, abs=tol), f"{name}.{f}"


@pytest.mark.parametrize("name", LAID_OUT)
def test_every_state_round_trips(name: str) -> None:
    profile = REGISTRY[name]
    status = next((p for p in profile.points if p.role == "status"), None)
    if status is None:
        assert profile.kind == "meter"
        return
    assert status.enum
    image = RegisterImage(profile)
    for state in sorted(set(status.enum.values())):
        image.set_status(state)
        assert decode_image(profile, image).status == state


@pytest.mark.parametrize(("name", "codes"), [
    ("huawei-sun2000", (2062, 2015, 2034)),
    ("sungrow-sg", (39,)),
    ("sunspec-inverter", (1000, 1007)),  # SunSpec Evt1 bits 0 and 7: ground fault, over temp
])
def test_faults_round_trip(name: str, codes: tuple[int, ...]) -> None:
    profile = REGISTRY[name]
    image = RegisterImage(profile)
    image.set_faults(codes)
    assert sorted(decode_image(profile, image).faults) == sorted(codes)
    image.set_faults(())
    assert decode_image(profile, image).faults == ()


def test_unset_points_are_not_implemented_not_zero() -> None:
    profile = REGISTRY["huawei-sun2000"]
    got = decode_image(profile, RegisterImage(profile))
    assert got.fields["p_ac_w"] is None
    assert got.fields["e_total_kwh"] is None
    assert got.status is None  # 0xFFFF in the status register: no state at all


def test_identity_strings_are_served() -> None:
    image = RegisterImage(REGISTRY["huawei-sun2000"])
    words = image.read("holding", 30000, 15)
    assert words is not None
    assert bytes(b for w in words for b in w.to_bytes(2, "big")).rstrip(b"\0") == \
        b"SUN2000-100KTL-M1"


def test_registers_outside_the_map_are_illegal() -> None:
    image = RegisterImage(REGISTRY["chint-dtsu666"])
    assert image.read("holding", 0x2000, 70) is not None  # the documented block, holes and all
    assert image.read("holding", 40000, 2) is None
    # the DTSU666 answers function 04 from the same registers (issue 12), so the input table
    # is the holding table there, illegal addresses included
    assert image.read("input", 0x2000, 2) == image.read("holding", 0x2000, 2)
    assert image.read("input", 40000, 2) is None
    assert RegisterImage(REGISTRY["huawei-sun2000"]).read("input", 32080, 2) is None
