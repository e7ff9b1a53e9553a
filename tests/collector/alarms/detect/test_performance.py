"""Underperformance: zero output by day, a string below its siblings, an inverter below its
peers, a plant's day against the clear sky."""

from __future__ import annotations

from collector.alarms.detect.capability import CapabilityDetector
from collector.alarms.detect.performance import (
    PeerYieldDetector,
    StringDetector,
    ZeroOutputDetector,
)
from collector.alarms.detect.sun import SunTracker
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

CFG = config({"performance": {"zero_output": {"for_s": 600},
                              "strings": {"for_s": 0, "ratio": 0.8, "clear_ratio": 0.9},
                              "peers": {"window_s": 3600, "ratio": 0.8, "clear_ratio": 0.9}}})


def _sun(t: int) -> SunTracker:
    f = fleet(CFG)
    sun = SunTracker(f.plants, f.night_elevation_deg)
    sun.update(t)
    return sun


def test_zero_output_in_good_daylight_for_the_duration() -> None:
    lc, det = lifecycle(CFG), ZeroOutputDetector(builtins(CFG), CFG.alarms.performance
                                                 .zero_output, _sun(NOON))
    for i in range(11):
        det.check(inverter("inv-01", NOON + i * 60 * S, p_ac_w=0.0), lc)
    (t,) = lc.drain()
    assert t.alarm.definition.id == "zero-output" and t.ts_ns == NOON + 600 * S
    det.check(inverter("inv-01", NOON + 700 * S, p_ac_w=25_000.0), lc)
    assert lc.open[("inv-01", "zero-output")].ended_ns == NOON + 700 * S


def test_zero_output_at_night_is_no_alarm() -> None:
    lc, det = lifecycle(CFG), ZeroOutputDetector(builtins(CFG), CFG.alarms.performance
                                                 .zero_output, _sun(MIDNIGHT))
    for i in range(30):
        det.check(inverter("inv-01", MIDNIGHT + i * 60 * S, p_ac_w=0.0), lc)
    assert lc.drain() == []


def _strings(*amps: float) -> dict[str, float]:
    return {f"pv{n}_i_a": a for n, a in enumerate(amps, start=1)}


def test_a_string_below_its_siblings_is_raised_and_cleared_with_hysteresis() -> None:
    lc, det = lifecycle(CFG), StringDetector(builtins(CFG), CFG.alarms.performance.strings)
    det.check(inverter("inv-01", NOON, **_strings(9.0, 9.1, 8.9)), lc)
    assert lc.drain() == []
    det.check(inverter("inv-01", NOON + 60 * S, **_strings(9.0, 6.3, 8.9)), lc)
    (t,) = lc.drain()
    assert t.alarm.definition.id == "string-2-low"
    assert t.alarm.definition.name_zh == "第2路组串电流偏低"
    assert abs(t.alarm.value - 6.3 / 8.95) < 1e-9
    det.check(inverter("inv-01", NOON + 120 * S, **_strings(9.0, 7.9, 8.9)), lc)
    assert lc.open[("inv-01", "string-2-low")].ended_ns is None  # 88%: inside the band
    det.check(inverter("inv-01", NOON + 180 * S, **_strings(9.0, 8.5, 8.9)), lc)
    assert lc.open[("inv-01", "string-2-low")].ended_ns == NOON + 180 * S


def test_an_unused_input_and_dusk_are_not_a_lost_string() -> None:
    lc, det = lifecycle(CFG), StringDetector(builtins(CFG), CFG.alarms.performance.strings)
    for i in range(10):  # pv3 never carried current: an unused MPPT input
        det.check(inverter("inv-01", NOON + i * 60 * S, **_strings(9.0, 9.1, 0.0)), lc)
    det.check(inverter("inv-01", NOON + 900 * S, **_strings(0.6, 0.2, 0.0)), lc)  # dusk
    assert lc.drain() == []


def test_an_inverter_below_the_median_of_its_peers_over_a_window() -> None:
    f = fleet(CFG)
    lc, det = lifecycle(CFG), PeerYieldDetector(builtins(CFG), CFG.alarms.performance.peers,
                                                f.plants, f.devices)
    kwp = f.devices["inv-01"].kwp
    assert abs(kwp - 100.0) < 1e-9  # 300 kWp shared by three equal inverters
    start = NOON - NOON % (3600 * S)
    energy = {"inv-01": 1000.0, "inv-02": 2000.0, "inv-03": 3000.0}
    per_hour = {"inv-01": 60.0, "inv-02": 62.0, "inv-03": 40.0}  # inv-03: 66 % of the median
    for hour in range(3):
        for minute in range(0, 60, 5):
            t = start + hour * 3600 * S + minute * 60 * S
            for d in energy:
                det.observe(inverter(d, t, e_total_kwh=energy[d] + per_hour[d] *
                                     (hour + minute / 60)))
            det.tick(t + 30 * S, lc)
    (x,) = lc.drain()
    assert x.alarm.device == "inv-03" and x.alarm.definition.id == "low-yield"
    assert abs(x.alarm.value - 40.0 / 60.0) < 0.02


def test_capability_at_sunset_from_the_meter_against_the_clear_sky() -> None:
    f = fleet(CFG)
    lc = lifecycle(CFG)
    det = CapabilityDetector(builtins(CFG), CFG.alarms.performance.capability, f.plants,
                             f.devices)
    det.observe(meter("meter", MIDNIGHT, e_export_kwh=5000.0))
    assert det.tick(MIDNIGHT + 6 * 3600 * S, ["p1"], []) == []  # sunrise: marked
    det.observe(inverter("inv-01", NOON, e_total_kwh=10.0))  # inverters: not counted
    det.observe(meter("meter", NOON, e_export_kwh=5400.0))
    (job,) = det.tick(MIDNIGHT + 20 * 3600 * S, [], ["p1"])
    assert job.actual_kwh == 400.0 and job.plant == "p1"
    det.judge(job, 1000.0, lc)  # 40 %: below the default 50 %
    (x,) = lc.drain()
    assert (x.alarm.device, x.alarm.definition.id) == ("p1", "low-capability")
    assert x.alarm.value == 0.4
    assert det.tick(MIDNIGHT + 44 * 3600 * S, [], ["p1"]) == []  # no sunrise seen: no judgement
