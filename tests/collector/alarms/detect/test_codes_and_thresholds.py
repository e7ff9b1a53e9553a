"""Device codes named from the catalogs; thresholds with duration and hysteresis."""

from __future__ import annotations

from collector.alarms.detect.codes import CodeDetector
from collector.alarms.detect.thresholds import ThresholdDetector
from tests.collector.alarms.helpers import (
    NOON,
    S,
    builtins,
    config,
    fleet,
    inverter,
    lifecycle,
    meter,
)

CFG = config()


def test_a_catalogued_code_is_named_in_both_languages_with_its_severity_and_action() -> None:
    lc, det = lifecycle(CFG), CodeDetector(builtins(CFG), fleet(CFG).devices)
    det.check(inverter("inv-01", NOON, faults=(2062,)), lc)
    (t,) = lc.drain()
    d = t.alarm.definition
    assert (d.id, d.kind, d.code, d.severity) == ("code-2062", "device_code", 2062, "major")
    assert (d.name, d.name_zh) == ("Low Insulation Resistance", "绝缘阻抗低")
    assert "insulation" in d.action


def test_an_unknown_code_is_raised_named_by_its_number() -> None:
    lc, det = lifecycle(CFG), CodeDetector(builtins(CFG), fleet(CFG).devices)
    det.check(inverter("inv-01", NOON, faults=(4242,)), lc)
    (t,) = lc.drain()
    assert t.alarm.definition.id == "code-4242"
    assert "4242" in t.alarm.definition.name and "4242" in t.alarm.definition.name_zh


def test_a_code_no_longer_reported_is_off_and_repeats_change_nothing() -> None:
    lc, det = lifecycle(CFG), CodeDetector(builtins(CFG), fleet(CFG).devices)
    det.check(inverter("inv-01", NOON, faults=(2032, 2064)), lc)
    for i in range(1, 5):
        det.check(inverter("inv-01", NOON + i * 60 * S, faults=(2032, 2064)), lc)
    det.check(inverter("inv-01", NOON + 300 * S, faults=(2064,)), lc)
    assert [t.alarm.definition.id for t in lc.drain()] == ["code-2032", "code-2064"]
    assert lc.open[("inv-01", "code-2032")].ended_ns == NOON + 300 * S  # its clear is pending
    assert lc.open[("inv-01", "code-2064")].ended_ns is None
    det.check(meter("meter", NOON), lc)  # faults None: a meter without fault registers
    assert lc.drain() == []


def test_a_restarted_detector_clears_what_it_finds_open() -> None:
    lc = lifecycle(CFG)
    CodeDetector(builtins(CFG), fleet(CFG).devices).check(
        inverter("inv-01", NOON, faults=(2064,)), lc)
    fresh = CodeDetector(builtins(CFG), fleet(CFG).devices)  # after a restart: no memory
    fresh.check(inverter("inv-01", NOON + 60 * S, faults=()), lc)
    assert lc.open[("inv-01", "code-2064")].ended_ns == NOON + 60 * S


def test_a_threshold_raises_after_its_duration_and_clears_past_its_hysteresis() -> None:
    lc, det = lifecycle(CFG), ThresholdDetector(CFG.alarms.thresholds)  # 75 C / 70, 600 s
    det.check(inverter("inv-01", NOON, t_internal_c=76.0), lc)
    det.check(inverter("inv-01", NOON + 540 * S, t_internal_c=80.0), lc)
    assert lc.drain() == []
    det.check(inverter("inv-01", NOON + 600 * S, t_internal_c=78.0), lc)
    (t,) = lc.drain()
    assert t.alarm.definition.id == "temperature-high" and t.alarm.value == 78.0
    det.check(inverter("inv-01", NOON + 660 * S, t_internal_c=72.0), lc)  # between: no change
    assert lc.open[("inv-01", "temperature-high")].ended_ns is None
    det.check(inverter("inv-01", NOON + 720 * S, t_internal_c=69.5), lc)
    assert lc.open[("inv-01", "temperature-high")].ended_ns == NOON + 720 * S


def test_a_dip_below_the_limit_restarts_the_duration() -> None:
    lc, det = lifecycle(CFG), ThresholdDetector(CFG.alarms.thresholds)
    det.check(inverter("inv-01", NOON, t_internal_c=76.0), lc)
    det.check(inverter("inv-01", NOON + 300 * S, t_internal_c=74.0), lc)
    det.check(inverter("inv-01", NOON + 360 * S, t_internal_c=76.0), lc)
    det.check(inverter("inv-01", NOON + 900 * S, t_internal_c=76.0), lc)
    assert lc.drain() == []


def test_any_of_several_fields_and_only_good_values_count() -> None:
    cfg = config({"thresholds": [{"id": "volts", "fields": ["v_ac_l1_v", "v_ac_l2_v"],
                                  "above": 253, "clear": 250, "for_s": 0, "name": "V high",
                                  "name_zh": "电压高"}]})
    lc, det = lifecycle(cfg), ThresholdDetector(cfg.alarms.thresholds)
    det.check(inverter("inv-01", NOON, invalid=("v_ac_l2_v",), v_ac_l1_v=230.0), lc)
    assert lc.drain() == []  # the invalid phase says nothing
    det.check(inverter("inv-01", NOON + S, v_ac_l1_v=230.0, v_ac_l2_v=260.0), lc)
    (t,) = lc.drain()
    assert t.alarm.value == 260.0 and t.alarm.definition.kind == "threshold"
    det.check(inverter("inv-01", NOON + 2 * S, v_ac_l1_v=230.0, v_ac_l2_v=251.0), lc)
    assert lc.open[("inv-01", "volts")].ended_ns is None  # one phase still in the band
    det.check(inverter("inv-01", NOON + 3 * S, v_ac_l1_v=230.0, v_ac_l2_v=249.0), lc)
    assert lc.open[("inv-01", "volts")].ended_ns == NOON + 3 * S


def test_devices_with_one_field_set_share_a_plan_and_each_keeps_its_own_duration() -> None:
    cfg = config({"thresholds": [{"id": "volts", "fields": ["v_ac_l1_v", "v_ac_l2_v"],
                                  "above": 253, "clear": 250, "for_s": 60, "name": "V high",
                                  "name_zh": "电压高"}]})
    lc, det = lifecycle(cfg), ThresholdDetector(cfg.alarms.thresholds)
    det.check(inverter("inv-01", NOON, v_ac_l1_v=260.0, v_ac_l2_v=230.0), lc)
    det.check(inverter("inv-02", NOON + 30 * S, v_ac_l1_v=260.0, v_ac_l2_v=230.0), lc)
    det.check(inverter("inv-03", NOON, v_ac_l1_v=230.0), lc)  # another field set
    assert det._plans["inv-01"] is det._plans["inv-02"] is not det._plans["inv-03"]
    det.check(inverter("inv-01", NOON + 60 * S, v_ac_l1_v=260.0, v_ac_l2_v=230.0), lc)
    det.check(inverter("inv-02", NOON + 60 * S, v_ac_l1_v=260.0, v_ac_l2_v=230.0), lc)
    det.check(inverter("inv-03", NOON + 60 * S, v_ac_l1_v=260.0), lc)
    # inv-01's 60 s are up, inv-02's are not; inv-03 judged by its one field, only now beyond
    assert [t.alarm.device for t in lc.drain()] == ["inv-01"]
