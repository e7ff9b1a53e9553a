"""The plausibility stage's fast pass (collector/pipeline/inside.py) judges as the exact check.

Once a device has a plan, its readings first meet the compiled check; each case here is one
the fast pass must hand to the exact check (or may pass only because the exact check would).
"""

from __future__ import annotations

import logging
import math

import pytest

from collector.pipeline.counters import Rating
from collector.pipeline.inside import NEVER, compile_inside
from collector.pipeline.plausibility import PlausibilityStage
from collector.reading import Quality
from tests.collector.test_plausibility import INVERTER, TS_2020, reading, stage

HOUR_NS = 3600 * 10**9
BASE = {"p_ac_w": 50_000.0, "t_internal_c": 40.0, "e_total_kwh": 1_000.0}


def planned() -> object:
    s = stage()
    [r] = s.process([reading("inv", dict(BASE))])
    assert not r.quality and "inv" in s._plans
    return s


def invalid(r: object) -> set[str]:
    return {k for k, q in r.quality.items() if q is Quality.INVALID}  # type: ignore[attr-defined]


@pytest.mark.parametrize("bad", [1e30, -1e30, math.nan, math.inf, -math.inf])
def test_a_value_outside_is_judged_by_the_exact_check(bad: float) -> None:
    s = planned()
    [r] = s.process([reading("inv", {**BASE, "p_ac_w": bad}, TS_2020 + HOUR_NS)])
    assert invalid(r) == {"p_ac_w"}


def test_another_field_set_of_the_same_size_is_judged_in_full() -> None:
    s = planned()
    fields = {k: v for k, v in BASE.items() if k != "t_internal_c"} | {"f_ac_hz": 1e9}
    [r] = s.process([reading("inv", fields, TS_2020 + HOUR_NS)])
    assert invalid(r) == {"f_ac_hz"}


def test_an_earlier_reading_meets_the_lifetime_bound_of_its_own_time() -> None:
    s = stage()
    later = TS_2020 + 24 * 365 * HOUR_NS  # planned then: a year's more energy allowed
    s.process([reading("inv", dict(BASE), later)])
    # 110 kW x 1.5 x about 6.5 years since 2014 (the programme's earliest commissioning)
    high = 110.0 * 1.5 * (TS_2020 - 1_388_534_400 * 10**9) / HOUR_NS
    [r] = s.process([reading("inv", {**BASE, "e_total_kwh": high + 100_000}, TS_2020)])
    assert invalid(r) == {"e_total_kwh"}


def test_none_passes_and_plausible_again_is_still_logged(
        caplog: pytest.LogCaptureFixture) -> None:
    s = planned()
    [r] = s.process([reading("inv", {**BASE, "p_ac_w": None}, TS_2020 + HOUR_NS)])
    assert not r.quality
    s.process([reading("inv", {**BASE, "t_internal_c": 999.0}, TS_2020 + 2 * HOUR_NS)])
    with caplog.at_level(logging.INFO, logger="collector.pipeline.plausibility"):
        [r] = s.process([reading("inv", dict(BASE), TS_2020 + 3 * HOUR_NS)])
    assert not r.quality
    assert "t_internal_c plausible again" in caplog.text


def test_a_compiled_check_wants_exactly_its_fields() -> None:
    inside = compile_inside([("a", (0.0, 1.0)), ("b", None), ("c", NEVER)])
    assert inside({"a": 0.5, "b": math.nan, "c": None})
    assert inside({"c": None, "b": 1e300, "a": None})  # any order; no rule: anything
    assert not inside({"a": 2.0, "b": 0.0, "c": None})
    assert not inside({"a": math.nan, "b": 0.0, "c": None})
    assert not inside({"a": 0.5, "b": 0.0, "c": 0.0})  # never inside: the exact check
    assert not inside({"a": 0.5, "b": 0.0, "c": None, "d": 1.0})
    with pytest.raises(KeyError):
        inside({"a": 0.5, "b": 0.0, "x": None})
    # bounds that are not finite: only the exact check tells infinity from a number
    assert not compile_inside([("a", (-math.inf, math.inf))])({"a": 1.0})


def fleet_stage() -> PlausibilityStage:
    # two inverters of one rating, one of a smaller rating
    return PlausibilityStage({"inv-a": INVERTER, "inv-b": INVERTER,
                              "small": Rating(11.0, "Asia/Shanghai")})


def test_devices_of_one_rating_share_a_plan_and_a_first_reading_takes_it() -> None:
    s = fleet_stage()
    s.process([reading("inv-a", dict(BASE))])
    [r] = s.process([reading("inv-b", dict(BASE), TS_2020 + 10**9)])
    assert not r.quality
    assert s._plans["inv-b"] is s._plans["inv-a"]  # planned once, for both
    # the first reading of a device of another rating is not judged by it: 50 kW is beyond
    # an 11 kW inverter
    [r] = s.process([reading("small", dict(BASE), TS_2020 + 2 * 10**9)])
    assert invalid(r) == {"p_ac_w"}


@pytest.mark.parametrize("bad", [1e30, math.nan, -math.inf])
def test_a_first_reading_outside_the_shared_plan_is_judged_by_the_exact_check(
        bad: float) -> None:
    s = fleet_stage()
    s.process([reading("inv-a", dict(BASE))])
    [r] = s.process([reading("inv-b", {**BASE, "p_ac_w": bad}, TS_2020 + 10**9)])
    assert invalid(r) == {"p_ac_w"}
    [r] = s.process([reading("inv-b", dict(BASE), TS_2020 + 2 * 10**9)])
    assert not r.quality  # and plausible again


def test_a_shared_plan_holds_for_readings_from_an_hour_before_it_only() -> None:
    s = fleet_stage()
    late = TS_2020 + 24 * 365 * HOUR_NS  # inv-a planned a year on
    s.process([reading("inv-a", dict(BASE), late)])
    high = 110.0 * 1.5 * (TS_2020 - 1_388_534_400 * 10**9) / HOUR_NS
    # inv-b's first reading is a year earlier: the bound of its own time, not the plan's
    [r] = s.process([reading("inv-b", {**BASE, "e_total_kwh": high + 100_000}, TS_2020)])
    assert invalid(r) == {"e_total_kwh"}
    # a reading seconds before the plan's takes it (planned an hour back)
    [r] = s.process([reading("inv-b", dict(BASE), late - 30 * 10**9)])
    assert not r.quality and s._plans["inv-b"] is s._plans["inv-a"]


def test_a_field_resolved_later_gets_a_new_shared_plan() -> None:
    s = fleet_stage()
    # f_ac_hz comes as None first: unresolved, so the plan sends any value of it to the
    # exact check; once resolved, a new plan judges it fast
    s.process([reading("inv-a", {**BASE, "f_ac_hz": None})])
    first = s._plans["inv-a"]
    s.process([reading("inv-b", {**BASE, "f_ac_hz": 50.0}, TS_2020 + 10**9)])
    assert s._plans["inv-b"] is not first
    [r] = s.process([reading("inv-a", {**BASE, "f_ac_hz": 1e9}, TS_2020 + 2 * 10**9)])
    assert invalid(r) == {"f_ac_hz"}
