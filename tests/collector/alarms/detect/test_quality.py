"""Data quality: refused counters, stuck values (not clipping), the spool dropping data."""

from __future__ import annotations

from collector.alarms.detect.quality import CounterDetector, SpoolDetector, StuckDetector
from collector.alarms.detect.sun import SunTracker
from collector.metrics import Metrics
from collector.sinks.base import CallbackSink
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

CFG = config({"data_quality": {"stuck": {"for_s": 600}}})


def test_a_counter_the_guard_refused_is_raised_with_its_event_and_cleared_when_good() -> None:
    lc = lifecycle(CFG)
    det = CounterDetector(builtins(CFG), lambda dev, f: "reset")
    det.check(inverter("inv-01", NOON, e_total_kwh=100.0), lc)
    det.check(inverter("inv-01", NOON + 60 * S, invalid=("e_total_kwh",)), lc)
    (t,) = lc.drain()
    assert t.alarm.definition.id == "counter-e_total_kwh" and "(reset)" in t.alarm.detail
    assert t.alarm.definition.kind == "data_quality"
    det.check(inverter("inv-01", NOON + 120 * S, e_total_kwh=100.5), lc)
    assert lc.open[("inv-01", "counter-e_total_kwh")].ended_ns == NOON + 120 * S


def _stuck(t: int) -> StuckDetector:
    f = fleet(CFG)
    sun = SunTracker(f.plants, f.night_elevation_deg)
    sun.update(t)
    return StuckDetector(builtins(CFG), CFG.alarms.data_quality.stuck, sun, f)


def test_a_value_stuck_by_day_is_raised_and_cleared_when_it_moves() -> None:
    lc, det = lifecycle(CFG), _stuck(NOON)
    for i in range(11):
        det.check(inverter("inv-01", NOON + i * 60 * S, p_ac_w=41_234.5), lc)
    (t,) = lc.drain()
    assert t.alarm.definition.id == "stuck-p_ac_w" and t.ts_ns == NOON + 600 * S
    det.check(inverter("inv-01", NOON + 660 * S, p_ac_w=41_300.0), lc)
    assert lc.open[("inv-01", "stuck-p_ac_w")].ended_ns == NOON + 660 * S


def test_clipping_at_the_rating_and_night_are_not_stuck() -> None:
    lc, det = lifecycle(CFG), _stuck(NOON)
    assert fleet(CFG).devices["inv-01"].rating_kw == 100  # the SUN2000 profile's rating
    for i in range(30):
        det.check(inverter("inv-01", NOON + i * 60 * S, p_ac_w=99_000.0), lc)  # clipped
        det.check(meter("meter", NOON + i * 60 * S, p_w=241_000.0), lc)  # the whole plant
    night = _stuck(MIDNIGHT)
    for i in range(30):
        night.check(inverter("inv-01", MIDNIGHT + i * 60 * S, p_ac_w=1_000.0), lc)
    assert lc.drain() == []


async def test_dropped_readings_in_a_sink_raise_the_spool_alarm_for_the_site() -> None:
    class Sink(CallbackSink):
        def __init__(self) -> None:
            super().__init__(self._noop)
            self.metrics = Metrics()

        async def _noop(self, readings: object) -> None:
            return None

    sink, lc = Sink(), lifecycle(CFG)
    det = SpoolDetector(builtins(CFG), "site")
    det.watch([sink, CallbackSink(sink._noop)])
    det.tick(NOON, lc)
    sink.metrics.inc("readings_dropped", 120)
    det.tick(NOON + 10 * S, lc)
    (t,) = lc.drain()
    assert (t.alarm.plant, t.alarm.device, t.alarm.value) == ("site", "spool", 120.0)
    det.tick(NOON + 20 * S, lc)
    assert lc.open[("spool", "spool-dropping")].ended_ns == NOON + 20 * S
