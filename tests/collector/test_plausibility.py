"""No absurd value is stored as good (issue 9): garbage register words, a runaway scale factor,
a counter's first reading after a start.

The property test feeds every profile random register words, decodes them as the collector
does and runs the plausibility stage with a realistic rating; every value still called good must
lie within physical limits written here, independently of config/fields/bounds.yaml.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collector.pipeline.counters import Rating
from collector.pipeline.plausibility import PlausibilityStage
from collector.reading import Quality, Reading
from collector.sources.modbus.decode import DeviceDecoder
from config.fields import FieldBounds, field_bounds
from config.profiles import load_registry

REGISTRY = load_registry()
TS_2020 = int(datetime(2020, 6, 21, 4, tzinfo=UTC).timestamp()) * 10**9
INVERTER = Rating(110.0, "Asia/Shanghai")  # a 100 kW string inverter, 10% headroom
METER = Rating(20_000 * 1.2, "Asia/Shanghai")  # a 20 MW plant's settlement meter


def reading(device: str, fields: dict[str, float | None], ts_ns: int = TS_2020,
            kind: str = "inverter") -> Reading:
    return Reading(kind=kind, plant="p1", device=device, ts_ns=ts_ns, fields=fields)


def stage() -> PlausibilityStage:
    return PlausibilityStage({"inv": INVERTER, "meter": METER})


def test_every_field_a_profile_produces_has_bounds() -> None:
    bounds = field_bounds()
    missing = sorted({p.field for prof in REGISTRY.values() for p in prof.points
                      if p.field and p.role == "value" and bounds.rule(p.field) is None})
    assert missing == [], f"add rules to config/fields/bounds.yaml for {missing}"


def test_the_values_issue_9_stored_are_invalid_now() -> None:
    s = stage()
    [m] = s.process([reading("meter", {"p_w": 1.57e34, "v_l1_v": 1.06e28, "f_hz": 5.4e29,
                                       "e_export_kwh": 1.0e25, "i_l1_a": 120.0},
                             kind="meter")])
    assert {k for k, q in m.quality.items() if q is Quality.INVALID} == {
        "p_w", "v_l1_v", "f_hz", "e_export_kwh"}
    assert m.fields["p_w"] is None and m.fields["e_export_kwh"] is None
    assert m.good("i_l1_a") == 120.0
    # Huawei 100 kW: 3.6e7 kWh would be 37 years at full power since 2014
    [inv] = s.process([reading("inv", {"e_total_kwh": 3.6e7, "p_ac_w": 65_000.0})])
    assert inv.quality_of("e_total_kwh") is Quality.INVALID
    assert inv.good("p_ac_w") == 65_000.0
    assert s.rejected == {"meter": 4, "inv": 1}


def test_a_lifetime_counter_is_bounded_by_the_commissioning_date() -> None:
    young = PlausibilityStage({"inv": Rating(110.0, "Asia/Shanghai", date(2020, 6, 1))})
    # 20 days at 165 kW is 79,200 kWh: a first reading of 100,000 kWh cannot be right
    [r] = young.process([reading("inv", {"e_total_kwh": 100_000.0})])
    assert r.quality_of("e_total_kwh") is Quality.INVALID
    [r] = young.process([reading("inv", {"e_total_kwh": 30_000.0})])
    assert r.good("e_total_kwh") == 30_000.0
    # the same reading is fine for a plant of the programme's first year (the default)
    [r] = stage().process([reading("inv", {"e_total_kwh": 100_000.0})])
    assert r.good("e_total_kwh") == 100_000.0


def test_devices_of_one_rating_share_bounds_and_each_rating_keeps_its_own(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import collector.pipeline.plausibility as plausibility

    resolved: list[tuple[str, Rating]] = []
    real = plausibility.resolve
    monkeypatch.setattr(plausibility, "resolve", lambda rule, rating, bounds: (
        resolved.append((rule.match, rating)), real(rule, rating, bounds))[1])
    looked_up: list[str] = []
    real_rule = FieldBounds.rule
    monkeypatch.setattr(FieldBounds, "rule", lambda self, name: (
        looked_up.append(name), real_rule(self, name))[1])
    small = Rating(11.0, "Asia/Shanghai")  # a 10 kW village inverter
    s = PlausibilityStage({f"inv-{i}": INVERTER for i in range(50)} | {"small": small})
    out = s.process([reading(f"inv-{i}", {"p_ac_w": 60_000.0, "v_ac_l1_v": 230.0})
                     for i in range(50)]
                    + [reading("small", {"p_ac_w": 60_000.0, "v_ac_l1_v": 230.0})])
    # 60 kW is good for the 100 kW inverters and absurd for the 10 kW one
    assert all(r.good("p_ac_w") == 60_000.0 for r in out[:50])
    assert out[50].quality_of("p_ac_w") is Quality.INVALID
    # each field looked up and resolved once per rating, not once per device
    assert len(resolved) == 4 and len({rating for _, rating in resolved}) == 2
    assert sorted(looked_up) == ["p_ac_w", "p_ac_w", "v_ac_l1_v", "v_ac_l1_v"]


def test_a_device_not_in_the_config_passes_unjudged() -> None:
    [r] = stage().process([reading("elsewhere", {"p_ac_w": 1e30})])
    assert r.fields["p_ac_w"] == 1e30 and not r.quality


def test_garbage_is_logged_once_per_field_until_it_is_good_again(
    caplog: pytest.LogCaptureFixture,
) -> None:
    s = stage()
    for _ in range(5):
        s.process([reading("inv", {"p_ac_w": 1e12})])
    assert sum("outside" in r.getMessage() for r in caplog.records) == 1
    s.process([reading("inv", {"p_ac_w": 1e3})])
    s.process([reading("inv", {"p_ac_w": 1e12})])
    assert sum("outside" in r.getMessage() for r in caplog.records) == 2


# Limits a real device of either rating can never exceed, whatever the profile says.
SANE = {"W": 110e3 * 1.5 + 1e3, "A": 110e3 * 1.5 / 200 + 10, "V": 45_000.0, "Hz": (0.0, 70.0),
        "degC": (-50.0, 150.0), "kWh": 110 * 1.5 * 24 * 365 * 8 + 10}


def _sane(name: str, value: float, is_meter: bool) -> bool:
    unit = field_bounds().rule(name)
    assert unit is not None
    limit = SANE.get(unit.unit)
    if unit.unit == "W" and is_meter:
        limit = METER.max_kw * 1000 * 1.5 + 1e3
    if unit.unit == "A" and is_meter:  # no current flows below 200 V in a plant
        limit = METER.max_kw * 1000 * 1.5 / 200 + 10
    if unit.unit == "kWh" and is_meter:
        limit = METER.max_kw * 1.5 * 24 * 365 * 8 + 10
    if limit is None:
        return math.isfinite(value)
    if isinstance(limit, tuple):
        return limit[0] <= value <= limit[1]
    return abs(value) <= limit


@pytest.mark.parametrize("profile", sorted(REGISTRY))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_random_register_words_never_make_an_absurd_good_value(profile: str,
                                                              data: st.DataObject) -> None:
    prof = REGISTRY[profile]
    if prof.sunspec_discover:
        return  # a template: its layout comes from the device (sunspec-inverter covers it)
    decoder = DeviceDecoder(prof)
    blocks = [data.draw(st.lists(st.integers(0, 0xFFFF), min_size=r.count, max_size=r.count))
              for r in decoder.reads]
    d = decoder.decode(blocks)
    is_meter = prof.kind == "meter"
    r = reading("meter" if is_meter else "inv", d.fields, kind=prof.kind)
    r = r._replace(quality=d.quality)
    [checked] = stage().process([r])
    for name, value in checked.fields.items():
        if value is not None and checked.quality_of(name) is Quality.GOOD:
            assert _sane(name, value, is_meter), (profile, name, value)
