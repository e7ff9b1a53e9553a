"""The stage itself: it never holds a reading back, whatever its detectors do."""

from __future__ import annotations

from collector.alarms.stage import AlarmStage
from collector.reading import Reading
from config.profiles import load_registry
from tests.collector.alarms.helpers import NOON, config


def test_a_detector_that_fails_never_keeps_a_reading_from_the_sinks() -> None:
    stage = AlarmStage(config(), load_registry())
    bad = Reading("inverter", "p1", "inv-01", NOON, {"t_internal_c": "hot"})  # type: ignore[dict-item]
    good = Reading("inverter", "p1", "inv-02", NOON, {"t_internal_c": 40.0}, faults=(2064,))
    assert stage.process([bad, good]) == [bad, good]
    assert stage.errors == 1
    assert [t.alarm.device for t in stage.unstarted] == ["inv-02"]  # the next one was judged


def test_readings_a_stage_made_are_not_judged() -> None:
    stage = AlarmStage(config(), load_registry())
    own = Reading("alarm", "p1", "inv-01", NOON, {"active": 1.0}, faults=(2064,))
    assert stage.process([own]) == [own]
    assert stage.unstarted == []
