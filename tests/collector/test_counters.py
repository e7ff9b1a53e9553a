"""The counter guard: dips, resets and impossible jumps are invalid; daily resets at midnight."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from collector.counters import CounterGuard
from collector.reading import Quality, Reading

SHANGHAI = ZoneInfo("Asia/Shanghai")
T0 = datetime(2020, 6, 21, 12, 0, tzinfo=SHANGHAI)


def at(t: datetime, **fields: float | None) -> Reading:
    return Reading(kind="inverter", plant="p", device="inv", ts_ns=int(t.timestamp()) * 10**9,
                   fields=fields)


def guard(max_kw: float = 100.0) -> CounterGuard:
    return CounterGuard("inv", {"e_total_kwh": "lifetime", "e_day_kwh": "daily"}, max_kw,
                        "Asia/Shanghai")


def test_a_rising_counter_stays_good() -> None:
    g = guard()
    for i, kwh in enumerate([1000.0, 1001.5, 1003.0, 1003.0, 1004.2]):
        r, events = g.check(at(T0 + timedelta(minutes=i), e_total_kwh=kwh))
        assert not events and r.good("e_total_kwh") == kwh
    assert g.reference("e_total_kwh") == 1004.2


def test_a_dip_is_invalid_and_the_reference_stays() -> None:
    g = guard()
    g.check(at(T0, e_total_kwh=1000.0))
    r, events = g.check(at(T0 + timedelta(minutes=1), e_total_kwh=990.0, p_ac_w=5.0))
    assert [e.kind for e in events] == ["dip"]
    assert r.quality_of("e_total_kwh") is Quality.INVALID and r.fields["e_total_kwh"] is None
    assert r.good("p_ac_w") == 5.0  # other fields untouched
    assert g.reference("e_total_kwh") == 1000.0
    # the next reading is judged against the last good value, not the dip
    r, events = g.check(at(T0 + timedelta(minutes=2), e_total_kwh=1001.0))
    assert not events and r.good("e_total_kwh") == 1001.0


def test_a_reset_to_zero_is_a_reset_event_never_a_good_value() -> None:
    g = guard()
    g.check(at(T0, e_total_kwh=250_000.0))
    for minute in (1, 2, 3):
        r, events = g.check(at(T0 + timedelta(minutes=minute), e_total_kwh=0.0))
        assert [e.kind for e in events] == ["reset"]
        assert r.good("e_total_kwh") is None
        assert events[0].reference == 250_000.0 and events[0].value == 0.0
    r, events = g.check(at(T0 + timedelta(minutes=4), e_total_kwh=250_003.0))
    assert not events and r.good("e_total_kwh") == 250_003.0


def test_an_impossible_jump_is_invalid() -> None:
    g = guard(max_kw=100.0)  # 100 kW for 60 s: 1.7 kWh, with margins about 6.5 kWh at most
    g.check(at(T0, e_total_kwh=1000.0))
    r, events = g.check(at(T0 + timedelta(minutes=1), e_total_kwh=1050.0))
    assert [e.kind for e in events] == ["jump"] and r.good("e_total_kwh") is None
    # a garbage read (0xFFFFFFFE Wh) is a jump too
    r, events = g.check(at(T0 + timedelta(minutes=2), e_total_kwh=4_294_967.294))
    assert [e.kind for e in events] == ["jump"]
    r, events = g.check(at(T0 + timedelta(minutes=3), e_total_kwh=1004.0))
    assert not events and r.good("e_total_kwh") == 1004.0


def test_a_counter_that_stood_still_may_catch_up() -> None:
    g = guard(max_kw=100.0)
    g.check(at(T0, e_total_kwh=1000.0))
    for minute in range(1, 30):  # stuck for half an hour
        g.check(at(T0 + timedelta(minutes=minute), e_total_kwh=1000.0))
    r, events = g.check(at(T0 + timedelta(minutes=30), e_total_kwh=1045.0))  # 90 kW average
    assert not events and r.good("e_total_kwh") == 1045.0


def test_daily_counter_resets_at_local_midnight_in_shanghai() -> None:
    g = guard()
    evening = datetime(2020, 6, 21, 23, 58, tzinfo=SHANGHAI)
    g.check(at(evening, e_day_kwh=512.0))
    r, events = g.check(at(evening + timedelta(minutes=4), e_day_kwh=0.0))  # 00:02 local
    assert not events and r.good("e_day_kwh") == 0.0
    r, events = g.check(at(evening + timedelta(hours=7), e_day_kwh=30.0))
    assert not events and r.good("e_day_kwh") == 30.0


def test_a_late_device_clock_resets_within_the_hour_after_midnight() -> None:
    g = guard()
    after_midnight = datetime(2020, 6, 22, 0, 5, tzinfo=SHANGHAI)
    g.check(at(after_midnight, e_day_kwh=512.0))  # yesterday's total still shown at 00:05
    r, events = g.check(at(after_midnight + timedelta(minutes=10), e_day_kwh=0.0))
    assert not events and r.good("e_day_kwh") == 0.0


def test_daily_counter_drop_at_noon_is_a_dip() -> None:
    g = guard()
    g.check(at(T0, e_day_kwh=300.0))
    r, events = g.check(at(T0 + timedelta(minutes=1), e_day_kwh=280.0))
    assert [e.kind for e in events] == ["dip"] and r.good("e_day_kwh") is None
    r, events = g.check(at(T0 + timedelta(minutes=2), e_day_kwh=0.0))
    assert [e.kind for e in events] == ["reset"]


def test_utc_midnight_is_not_the_plants_midnight() -> None:
    # 08:00 in Shanghai is midnight UTC: a daily counter dropping then is a fault
    g = guard()
    morning = datetime(2020, 6, 22, 7, 58, tzinfo=SHANGHAI)
    g.check(at(morning, e_day_kwh=40.0))
    r, events = g.check(at(morning + timedelta(minutes=4), e_day_kwh=0.0))
    assert [e.kind for e in events] == ["reset"] and r.good("e_day_kwh") is None


def test_an_implausible_value_after_midnight_is_still_a_jump() -> None:
    g = guard(max_kw=100.0)
    evening = datetime(2020, 6, 21, 23, 58, tzinfo=SHANGHAI)
    g.check(at(evening, e_day_kwh=512.0))
    # 00:02: 300 kWh in two minutes since midnight is impossible for 100 kW
    _r, events = g.check(at(evening + timedelta(minutes=4), e_day_kwh=300.0))
    assert [e.kind for e in events] == ["jump"]


def test_missing_and_not_implemented_values_are_not_judged() -> None:
    g = guard()
    g.check(at(T0, e_total_kwh=1000.0))
    r, events = g.check(at(T0 + timedelta(minutes=1), e_total_kwh=None))
    assert not events
    sentinel = Reading(kind="inverter", plant="p", device="inv",
                       ts_ns=int((T0 + timedelta(minutes=2)).timestamp()) * 10**9,
                       fields={"e_total_kwh": None},
                       quality={"e_total_kwh": Quality.NOT_IMPLEMENTED})
    r, events = g.check(sentinel)
    assert not events and r.quality_of("e_total_kwh") is Quality.NOT_IMPLEMENTED
    assert g.reference("e_total_kwh") == 1000.0
