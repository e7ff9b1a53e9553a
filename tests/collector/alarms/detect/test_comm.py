"""Communication loss: judged by a timer, with the sun: sleeping inverters are no alarm."""

from __future__ import annotations

from collector.alarms.detect.comm import CommLossDetector
from collector.alarms.detect.sun import SunTracker
from collector.alarms.lifecycle import Lifecycle
from collector.night import sun_elevation_deg
from tests.collector.alarms.helpers import (
    MIDNIGHT,
    NOON,
    S,
    builtins,
    config,
    fleet,
    inverter,
    lifecycle,
    meter,
)

CFG = config({"comm_loss": {"missed_polls": 3}, "tick_s": 10})  # 60 s polls, 2 s timeout
LIMIT_S = 3 * 60 + 2 + 10


def _rig() -> tuple[CommLossDetector, SunTracker, Lifecycle]:
    f = fleet(CFG)
    sun = SunTracker(f.plants, f.night_elevation_deg)
    det = CommLossDetector(builtins(CFG), f.devices, sun, 3, 10, 6.0)
    return det, sun, lifecycle(CFG)


def _run(det: CommLossDetector, sun: SunTracker, lc: Lifecycle, start: int, end: int,
         answering: set[str]) -> None:
    """Tick every 10 s; the devices in ``answering`` deliver a reading every 60 s."""
    for t in range(start, end, 10 * S):
        sun.update(t)
        if (t - start) % (60 * S) == 0:
            for d in answering:
                r = meter(d, t, p_w=1.0) if d == "meter" else inverter(d, t, p_ac_w=1.0)
                det.seen(r, lc)
        det.tick(t, lc)


def test_silence_in_daylight_is_raised_after_the_missed_polls_and_cleared_by_a_reading() -> None:
    det, sun, lc = _rig()
    _run(det, sun, lc, NOON, NOON + 600 * S, {"inv-01", "inv-02", "meter"})
    (t,) = lc.drain()
    assert (t.alarm.device, t.alarm.definition.id) == ("inv-03", "comm-loss")
    assert LIMIT_S < (t.ts_ns - NOON) / S <= LIMIT_S + 10  # counted from the start
    det.seen(inverter("inv-03", NOON + 610 * S, p_ac_w=5.0), lc)
    assert lc.open[("inv-03", "comm-loss")].ended_ns == NOON + 610 * S


def test_a_reading_with_nothing_good_in_it_is_not_a_sign_of_life() -> None:
    det, sun, lc = _rig()
    _run(det, sun, lc, NOON, NOON + 300 * S, {"inv-01", "inv-02", "meter", "inv-03"})
    for t in range(NOON + 300 * S, NOON + 600 * S, 60 * S):
        det.seen(inverter("inv-03", t, invalid=("p_ac_w",)), lc)
        for d in ("inv-01", "inv-02"):
            det.seen(inverter(d, t, p_ac_w=1.0), lc)
        det.seen(meter("meter", t, p_w=1.0), lc)
        sun.update(t)
        det.tick(t, lc)
    assert [x.alarm.device for x in lc.drain()] == ["inv-03"]


def test_sleeping_inverters_at_night_are_no_alarm_but_a_silent_meter_is() -> None:
    det, sun, lc = _rig()
    assert sun_elevation_deg(36.27, 100.62, MIDNIGHT) < -20
    _run(det, sun, lc, MIDNIGHT, MIDNIGHT + 3 * 3600 * S, {"meter"})
    assert lc.drain() == []
    _run(det, sun, lc, MIDNIGHT + 3 * 3600 * S, MIDNIGHT + 4 * 3600 * S, set())
    assert [(x.alarm.device, x.alarm.definition.id) for x in lc.drain()] == [
        ("meter", "comm-loss")]


def test_no_storm_at_dusk_or_dawn_when_inverters_sleep_with_the_sun() -> None:
    """Inverters answer while the sun is above 0 degrees, as the simulator's do."""
    det, sun, lc = _rig()
    for t in range(MIDNIGHT, MIDNIGHT + 2 * 86_400 * S, 10 * S):
        sun.update(t)
        if (t - MIDNIGHT) % (60 * S) == 0:
            det.seen(meter("meter", t, p_w=1.0), lc)
            if sun_elevation_deg(36.27, 100.62, t) > 0:
                for d in ("inv-01", "inv-02", "inv-03"):
                    det.seen(inverter(d, t, p_ac_w=1.0), lc)
        det.tick(t, lc)
    assert lc.drain() == []


def test_an_inverter_dead_since_the_night_is_raised_soon_after_sunrise() -> None:
    det, sun, lc = _rig()
    morning = MIDNIGHT + 5 * 3600 * S
    for t in range(morning, morning + 3 * 3600 * S, 10 * S):
        sun.update(t)
        if (t - morning) % (60 * S) == 0 and sun_elevation_deg(36.27, 100.62, t) > 0:
            for d in ("inv-01", "inv-02"):
                det.seen(inverter(d, t, p_ac_w=1.0), lc)
        det.seen(meter("meter", t, p_w=1.0), lc)
        det.tick(t, lc)
    (x,) = lc.drain()
    assert x.alarm.device == "inv-03"
    el = sun_elevation_deg(36.27, 100.62, x.ts_ns)
    assert 6.0 < el < 9.0  # judged from the moment the sun passed 6 degrees, plus the limit


def test_the_collectors_own_standstill_is_no_devices_silence() -> None:
    det, sun, lc = _rig()
    _run(det, sun, lc, NOON, NOON + 300 * S, {"inv-01", "inv-02", "inv-03", "meter"})
    det.excuse(1800 * S)  # the process stood still for half an hour (simulated)
    resume = NOON + 2100 * S
    sun.update(resume)
    det.tick(resume, lc)
    assert lc.drain() == []
    # still nothing from inv-03 after the restart of polling: that one is silent
    _run(det, sun, lc, resume, resume + 400 * S, {"inv-01", "inv-02", "meter"})
    (t,) = lc.drain()
    assert t.alarm.device == "inv-03"


def test_a_pushed_device_is_heard_when_its_reading_arrives_not_when_the_edge_took_it() -> None:
    """Over MQTT a reading reaches the central collector after the hand-over, stamped earlier
    by the edge (and by the edge's clock): a delay longer than the allowance is no silence."""
    det, sun, lc = _rig()
    delay = (LIMIT_S + 120) * S
    for t in range(NOON, NOON + 3600 * S, 10 * S):
        sun.update(t)
        if (t - NOON) % (60 * S) == 0:
            for d in ("inv-01", "inv-02", "inv-03"):
                det.seen(inverter(d, t - delay, p_ac_w=1.0), lc, now_ns=t)
            det.seen(meter("meter", t - delay, p_w=1.0), lc, now_ns=t)
        det.tick(t, lc)
    assert lc.drain() == []


def test_a_reading_taken_before_the_raise_clears_it_when_it_arrives_never_before() -> None:
    det, sun, lc = _rig()
    _run(det, sun, lc, NOON, NOON + 600 * S, {"inv-01", "inv-02", "meter"})
    (raised,) = lc.drain()
    assert raised.alarm.device == "inv-03"
    taken, arrived = raised.ts_ns - 300 * S, NOON + 610 * S  # held up on the way
    det.seen(inverter("inv-03", taken, p_ac_w=5.0), lc, now_ns=arrived)
    a = lc.open[("inv-03", "comm-loss")]
    assert a.ended_ns == arrived >= a.raised_ns
