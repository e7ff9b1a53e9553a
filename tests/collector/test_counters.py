"""The counter guard: dips, resets and impossible jumps are invalid; daily resets at midnight."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from collector.pipeline.counters import CounterGuard
from collector.reading import Quality, Reading
from collector.sources.modbus.decode import DeviceDecoder
from config.profiles import load_registry
from simulator.image import RegisterImage

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


# -- a genuine restart (inverter swapped, firmware reset) -------------------------------------
def test_a_genuine_reset_becomes_the_new_baseline(caplog: pytest.LogCaptureFixture) -> None:
    """50,000 kWh, then the device starts again from 0: the first readings below the reference
    are invalid; once three agree (never falling, rising overall, possible at rated power) the
    newest is the new baseline and every later reading is good again."""
    g = guard(max_kw=100.0)
    g.check(at(T0, e_total_kwh=50_000.0))
    caplog.set_level(logging.DEBUG, logger="collector.pipeline.counters")
    after = [0.0, 0.5, 1.0, 1.6, 2.1, 2.9]  # kWh, one reading a minute
    kinds, stored = [], []
    for minute, kwh in enumerate(after, start=1):
        r, events = g.check(at(T0 + timedelta(minutes=minute), e_total_kwh=kwh))
        kinds.append([e.kind for e in events])
        stored.append(r.good("e_total_kwh"))
    assert kinds == [["reset"], ["reset"], ["rebase"], [], [], []]
    assert stored == [None, None, 1.0, 1.6, 2.1, 2.9]
    assert g.reference("e_total_kwh") == 2.9
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    # one warning for the reset, one for the rebase; the repeat went to DEBUG
    assert len(warnings) == 2, [r.getMessage() for r in warnings]
    assert "restarted" in warnings[1].getMessage()


def test_a_counter_stuck_at_zero_never_rebases() -> None:
    """Zeros agree among themselves but never rise: a register that reads 0 is no new counter."""
    g = guard()
    g.check(at(T0, e_total_kwh=50_000.0))
    for minute in range(1, 10):
        r, events = g.check(at(T0 + timedelta(minutes=minute), e_total_kwh=0.0))
        assert [e.kind for e in events] == ["reset"] and r.good("e_total_kwh") is None
    assert g.reference("e_total_kwh") == 50_000.0


def test_scattered_low_readings_do_not_rebase() -> None:
    """Garbage below the reference that does not count like a meter (falls, or leaps more than
    rated power allows) keeps being rejected."""
    g = guard(max_kw=100.0)
    g.check(at(T0, e_total_kwh=50_000.0))
    for minute, kwh in enumerate([10.0, 5.0, 12.0, 3_000.0, 7.0, 40.0], start=1):
        r, events = g.check(at(T0 + timedelta(minutes=minute), e_total_kwh=kwh))
        assert events and events[0].kind in ("reset", "dip") and r.good("e_total_kwh") is None


def test_repeated_rejections_warn_once_per_state(caplog: pytest.LogCaptureFixture) -> None:
    g = guard()
    g.check(at(T0, e_total_kwh=1000.0))
    caplog.set_level(logging.DEBUG, logger="collector.pipeline.counters")
    for minute in range(1, 30):
        g.check(at(T0 + timedelta(minutes=minute), e_total_kwh=990.0))  # the same dip
    levels = [r.levelno for r in caplog.records]
    assert levels.count(logging.WARNING) == 1 and levels.count(logging.DEBUG) == 28
    g.check(at(T0 + timedelta(minutes=30), e_total_kwh=1001.0))  # good again
    g.check(at(T0 + timedelta(minutes=31), e_total_kwh=990.0))  # a new dip: a new warning
    assert [r.levelno for r in caplog.records].count(logging.WARNING) == 2


# -- an acc32 that rolls over: decoder + guard --------------------------------------------------
def test_an_acc32_wrap_continues_the_counter() -> None:
    """A 20 MW plant's SunSpec meter counts Wh in an acc32 with TotWh_SF 0: it wraps at
    2**32 Wh (4,294,967.296 kWh), about every nine days at full power. The guard must continue
    the count (a `wrap` event), not call it a reset."""
    profile = load_registry()["sunspec-meter"]
    decoder = DeviceDecoder(profile)
    image = RegisterImage(profile)
    image.set_field("e_import_kwh", 10.0)
    g = CounterGuard("meter", {"e_export_kwh": "lifetime"}, max_kw=20_000.0)
    wrap_kwh = 2**32 / 1000.0

    def poll(minute: int, raw_wh: int) -> tuple[Reading, list[str], float]:
        image.set_raw("203.TotWhExp", raw_wh)
        blocks = [image.read(r.table, r.address, r.count) or [] for r in decoder.reads]
        d = decoder.decode(blocks)
        reading = Reading(kind="meter", plant="p", device="meter",
                          ts_ns=int((T0 + timedelta(minutes=minute)).timestamp()) * 10**9,
                          fields=d.fields, quality=d.quality)
        checked, events = g.check(reading, d.wrap_at)
        return checked, [e.kind for e in events], d.wrap_at["e_export_kwh"]

    top = 2**32 - 200_000  # 200 kWh before the wrap
    r, kinds, wrap_at = poll(0, top)
    assert wrap_at == pytest.approx(wrap_kwh) and not kinds
    r, kinds, _ = poll(1, 100_000)  # 300 kWh in a minute at 20 MW: possible, across the wrap
    assert kinds == ["wrap"]
    assert r.good("e_export_kwh") == pytest.approx(wrap_kwh + 100.0)
    r, kinds, _ = poll(2, 300_000)  # later readings carry the offset: the count keeps rising
    assert not kinds and r.good("e_export_kwh") == pytest.approx(wrap_kwh + 300.0)
    # a small value far from the top is a reset, as before, not a wrap
    r, kinds, _ = poll(3, 1)
    assert kinds == ["reset"] and r.good("e_export_kwh") is None


def test_the_wrap_follows_the_scale_factor_in_effect() -> None:
    profile = load_registry()["sunspec-meter"]
    decoder = DeviceDecoder(profile)
    image = RegisterImage(profile)
    image.set_raw("203.TotWhExp", 5)
    image.set_raw("203.TotWh_SF", 2)  # hundreds of Wh per count
    d = decoder.decode([image.read(r.table, r.address, r.count) or [] for r in decoder.reads])
    assert d.wrap_at["e_export_kwh"] == pytest.approx(2**32 * 100 / 1000.0)
    assert "p_w" not in d.wrap_at  # only counters wrap
