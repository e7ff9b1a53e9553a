"""The MQTT payload mappings, without a broker: each format, bad input by reason, a fuzz."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collector.errors import BadInput
from collector.reading import Quality, Reading
from collector.sinks.mqtt_payload import reading_payload, reading_topic
from collector.sources.mqtt.assemble import PerTopicAssembler
from collector.sources.mqtt.decoders import JsonDecoder, PvreliefDecoder, TimeBounds
from collector.sources.mqtt.devices import MqttDevices
from config.mappings import JsonMapping, PerTopicMapping, PvreliefMapping, load_mappings
from config.profiles import load_registry
from tests.mqtt_helpers import pushed_config

CASES = Path(__file__).resolve().parent / "mqtt_cases" / "bad-input.yaml"
NOW = 1_592_712_000_000_000_000  # 2020-06-21T04:00:00Z, the test's clock
BOUNDS = TimeBounds(600 * 10**9, 90 * 86_400 * 10**9)
MAPPINGS = load_mappings()
REGISTRY = load_registry()
DEVICES = MqttDevices(pushed_config(), REGISTRY)


def decoders() -> dict[str, Any]:
    utc = MAPPINGS["sunlog-json"].model_copy(deep=True)
    assert isinstance(utc, JsonMapping)
    utc.timestamp.timezone = None
    return {
        "pvrelief": PvreliefDecoder(_as(PvreliefMapping, "pvrelief"), DEVICES, BOUNDS),
        "sunlog-json": JsonDecoder(_as(JsonMapping, "sunlog-json"), DEVICES, BOUNDS),
        "sunlog-json-utc": JsonDecoder(utc, DEVICES, BOUNDS),
        "sunlog-topics": PerTopicAssembler(_as(PerTopicMapping, "sunlog-topics"), DEVICES,
                                           BOUNDS),
    }


def _as(kind: type, name: str) -> Any:
    m = MAPPINGS[name]
    assert isinstance(m, kind)
    return m


class Reports(list[tuple[str, str]]):
    def __call__(self, reason: str, detail: str) -> None:
        self.append((reason, detail))


def reading(**kw: Any) -> Reading:
    base: dict[str, Any] = dict(
        kind="inverter", plant="p1", device="p1-inv-01", ts_ns=NOW - 60 * 10**9,
        fields={"p_ac_w": 61234.5, "e_total_kwh": 152301.70000000001, "t_internal_c": None},
        quality={"t_internal_c": Quality.NOT_IMPLEMENTED}, status="running", faults=(2032,),
        village="v1", counters={"e_total_kwh": "lifetime"},
        wrap_at={"e_total_kwh": 42949672.95})
    return Reading(**(base | kw))


# ---- pvrelief -------------------------------------------------------------------------------
def test_the_edge_format_round_trips_a_reading_exactly() -> None:
    r = reading()
    dec = decoders()["pvrelief"]
    got = dec.decode(reading_topic("pvrelief", "s1", r), reading_payload(r, "s1").encode(),
                     NOW, Reports())
    assert got == [r]


def test_the_edge_format_keeps_a_cleared_fault_and_a_reading_without_faults() -> None:
    dec = decoders()["pvrelief"]
    for faults in ((), None):
        r = reading(faults=faults, status=None, quality={}, fields={"p_ac_w": 1.0})
        topic = reading_topic("pvrelief", "s1", r)
        assert dec.decode(topic, reading_payload(r, "s1").encode(), NOW, Reports()) == [r]


def test_without_counters_in_the_message_the_device_profile_names_them() -> None:
    r = reading(device="p1-meter", kind="meter", counters={}, wrap_at={}, fields={
        "p_w": 1.0, "e_export_kwh": 2.0})
    [got] = decoders()["pvrelief"].decode(reading_topic("pvrelief", "s1", r),
                                          reading_payload(r, "s1").encode(), NOW, Reports())
    assert dict(got.counters) == {"e_export_kwh": "lifetime", "e_import_kwh": "lifetime"}


@pytest.mark.parametrize(("value", "reason"), [
    (1e30, "absurd_value"), (-5e12, "absurd_value"), ("12.5", "wrong_type"), (True, "wrong_type"),
    ({"v": 1}, "wrong_type"),
])
def test_a_bad_value_spoils_its_field_only(value: object, reason: str) -> None:
    obj = json.loads(reading_payload(reading(), "s1"))
    obj["fields"]["p_ac_w"] = value
    reports = Reports()
    [got] = decoders()["pvrelief"].decode("pvrelief/s1/p1/p1-inv-01/reading",
                                          json.dumps(obj).encode(), NOW, reports)
    assert got.fields["p_ac_w"] is None and got.quality_of("p_ac_w") is Quality.INVALID
    assert got.good("e_total_kwh") == pytest.approx(152301.7)
    assert [r for r, _ in reports] == [reason]
    assert "p1-inv-01" in reports[0][1] and "p_ac_w" in reports[0][1]


def test_nan_in_a_payload_is_an_absurd_value_not_a_number() -> None:
    text = reading_payload(reading(), "s1").replace("61234.5", "NaN")
    reports = Reports()
    [got] = decoders()["pvrelief"].decode("pvrelief/s1/p1/p1-inv-01/reading", text.encode(),
                                          NOW, reports)
    assert got.fields["p_ac_w"] is None and [r for r, _ in reports] == ["absurd_value"]


def test_a_profile_range_is_the_plausible_range(monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = pushed_config(villages=[{"id": "v1", "plants": [{
        "id": "p1", "capacity_kwp_dc": 300, "capacity_kw_ac": 250, "latitude": 36.27,
        "longitude": 100.62, "devices": [{"id": "hw", "profile": "huawei-sun2000",
                                          "protocol": "mqtt"}]}]}])
    dec = PvreliefDecoder(_as(PvreliefMapping, "pvrelief"), MqttDevices(cfg, REGISTRY), BOUNDS)
    r = reading(device="hw", fields={"pv1_v_v": 2000.0, "pv2_v_v": 600.0}, quality={})
    reports = Reports()
    [got] = dec.decode("pvrelief/s1/p1/hw/reading", reading_payload(r, "s1").encode(), NOW,
                       reports)
    assert got.fields == {"pv1_v_v": None, "pv2_v_v": 600.0}  # the profile says max 1600 V
    assert [r for r, _ in reports] == ["absurd_value"]


# ---- a logger's JSON ------------------------------------------------------------------------
def test_a_logger_json_object_maps_paths_scales_local_time_status_and_faults() -> None:
    payload = {"sn": "P1-INV-02", "time": "2020-06-21 12:00:00.250",
               "data": {"pac": 61.2345, "etotal": 152301.7, "tmp": 41.5, "unknown": 3},
               "state": 2, "alarm": [2032, 0]}
    [got] = decoders()["sunlog-json"].decode("sunlog/p1/P1-INV-02/data",
                                             json.dumps(payload).encode(), NOW, Reports())
    assert (got.device, got.plant, got.kind, got.village) == ("p1-inv-02", "p1", "inverter", "v1")
    assert got.ts_ns == NOW + 250_000_000  # 12:00:00.250 in Asia/Shanghai
    assert got.fields == {"p_ac_w": pytest.approx(61234.5), "e_total_kwh": 152301.7,
                          "t_internal_c": 41.5}
    assert (got.status, got.faults) == ("fault", (2032,))
    assert dict(got.counters) == {"e_total_kwh": "lifetime"}


def test_a_logger_meter_has_no_faults_key_and_so_no_faults() -> None:
    payload = {"sn": "p1-meter", "time": "2020-06-21T12:00:00+08:00",
               "data": {"p": -1.5, "eexp": 10.0, "eimp": 2.0}}
    [got] = decoders()["sunlog-json"].decode("sunlog/p1/p1-meter/data",
                                             json.dumps(payload).encode(), NOW, Reports())
    assert got.kind == "meter" and got.faults is None and got.status is None
    assert got.fields == {"p_w": -1500.0, "e_export_kwh": 10.0, "e_import_kwh": 2.0}


# ---- one value per topic ---------------------------------------------------------------------
def per_topic(dec: PerTopicAssembler, device: str, quantity: str, value: float, t_ms: int,
              now: int = NOW) -> list[Reading]:
    return dec.decode(f"sunlog/{device}/{quantity}", json.dumps({"v": value, "t": t_ms}).encode(),
                      now, Reports())


def test_values_of_one_window_become_one_reading_stamped_with_the_window_start() -> None:
    dec = decoders()["sunlog-topics"]
    t = NOW // 10**6 - 3_600_000 + 12_345  # 12.345 s into a minute
    assert per_topic(dec, "P1-INV-01", "0/power", 61234.5, t) == []
    assert per_topic(dec, "P1-INV-01", "0/yield_total", 152301700.0, t + 1) == []
    assert per_topic(dec, "P1-INV-01", "0/firmware", 3.0, t) == []  # not mapped: ignored
    assert per_topic(dec, "P1-INV-02", "0/power", 1.0, t) == []  # another device
    [first] = per_topic(dec, "P1-INV-01", "0/power", 61000.0, t + 60_000)  # the next window
    assert first.ts_ns == (t - 12_345) * 10**6
    assert first.fields == {"p_ac_w": 61234.5, "e_total_kwh": pytest.approx(152301.7)}
    assert dict(first.counters) == {"e_total_kwh": "lifetime"}
    assert dec.open_windows == 2
    quiet = dec.flush(NOW + 60 * 10**9)  # nothing arrived for a window's length
    assert sorted(r.device for r in quiet) == ["p1-inv-01", "p1-inv-02"]
    assert dec.open_windows == 0


def test_a_redelivered_value_is_a_duplicate_and_a_late_one_a_partial_reading() -> None:
    dups: list[int] = []
    dec = PerTopicAssembler(_as(PerTopicMapping, "sunlog-topics"), DEVICES, BOUNDS,
                            lambda: dups.append(1))
    t = NOW // 10**6 - 3_600_000
    per_topic(dec, "P1-INV-01", "0/power", 5.0, t)
    assert per_topic(dec, "P1-INV-01", "0/power", 5.0, t) == []  # in the open window
    [done] = dec.flush(0, force=True)
    assert per_topic(dec, "P1-INV-01", "0/power", 5.0, t) == []  # after it was emitted
    assert len(dups) == 2
    per_topic(dec, "P1-INV-01", "0/yield_day", 7000.0, t)  # late, not seen before
    [late] = dec.flush(0, force=True)
    assert late.ts_ns == done.ts_ns and late.fields == {"e_day_kwh": 7.0}


# ---- bad input, as data ----------------------------------------------------------------------
def bad_cases() -> list[dict[str, Any]]:
    return yaml.safe_load(CASES.read_text(encoding="utf-8"))


@pytest.mark.parametrize("case", bad_cases(), ids=lambda c: c["name"])
def test_bad_input_is_refused_with_its_reason(case: dict[str, Any]) -> None:
    iso = datetime.fromtimestamp(NOW / 1e9, UTC).isoformat()
    payload = (case["payload"].replace("{ts_ns}", str(NOW)).replace("{ts_ms}", str(NOW // 10**6))
               .replace("{iso}", iso))
    raw = payload.encode("latin-1") if "\xff" in payload else payload.encode()
    with pytest.raises(BadInput) as e:
        decoders()[case["mapping"]].decode(case["topic"], raw, NOW, Reports())
    assert e.value.reason == case["reason"], e.value.detail
    assert e.value.detail


def test_the_cases_cover_every_message_level_reason() -> None:
    reasons = {c["reason"] for c in bad_cases()}
    assert reasons >= {"not_json", "not_object", "missing_field", "wrong_type", "unknown_device",
                       "plant_mismatch", "topic_mismatch", "timestamp_out_of_range",
                       "bad_timestamp", "unknown_schema", "bad_topic"}


# ---- fuzz: any bytes, any JSON: a reading or BadInput, nothing else ---------------------------
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) |
    st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner,
                                                                max_size=6),
    max_leaves=25)


def _check(decode: Callable[[], list[Reading]]) -> None:
    try:
        readings = decode()
    except BadInput as e:
        assert e.reason and e.detail
        return
    for r in readings:
        assert isinstance(r.ts_ns, int)
        for name, v in r.fields.items():
            assert v is None or (isinstance(v, float) and math.isfinite(v)), (name, v)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(payload=st.binary(max_size=300), mapping=st.sampled_from(sorted(decoders())))
def test_fuzz_any_bytes(payload: bytes, mapping: str) -> None:
    dec = decoders()[mapping]
    _check(lambda: dec.decode("pvrelief/s1/p1/p1-inv-01/reading", payload, NOW, Reports()))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(fields=st.dictionaries(st.text(max_size=12), json_values, max_size=6),
       extra=st.dictionaries(st.sampled_from(["quality", "status", "faults", "counters",
                                              "wrap_at", "plant", "ts_ns", "device"]),
                             json_values, max_size=4))
def test_fuzz_edge_messages_with_hostile_values(fields: dict, extra: dict) -> None:
    obj = json.loads(reading_payload(reading(), "s1")) | {"fields": fields} | extra
    payload = json.dumps(obj).encode()
    dec = decoders()["pvrelief"]
    _check(lambda: dec.decode("pvrelief/s1/p1/p1-inv-01/reading", payload, NOW, Reports()))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(obj=st.dictionaries(st.sampled_from(["sn", "time", "data", "state", "alarm", "v", "t"]),
                           json_values, max_size=6),
       data=st.dictionaries(st.sampled_from(["pac", "etotal", "p", "eexp"]), json_values),
       topic=st.sampled_from(["sunlog/p1/P1-INV-01/data", "sunlog/P1-INV-01/0/power",
                              "sunlog/P1-METER/grid/export_total", "x", "sunlog/p1"]))
def test_fuzz_logger_messages(obj: dict, data: dict, topic: str) -> None:
    obj = {"sn": "P1-INV-01", "time": "2020-06-21T12:00:00+08:00", "t": NOW // 10**6} | obj
    obj["data"] = obj.get("data", data)
    payload = json.dumps(obj).encode()
    for name in ("sunlog-json", "sunlog-topics"):
        dec = decoders()[name]
        _check(lambda d=dec: d.decode(topic, payload, NOW, Reports()))


@pytest.mark.parametrize(("value", "fmt", "expect"), [
    ("2020-06-21 12:00:00.999999", "iso8601", NOW + 999_999_000),  # no float rounding to :01
    ("2020-06-21T04:00:00.25Z", "iso8601", NOW + 250_000_000),
    ("2020-06-21T12:00:00+08:00", "iso8601", NOW),
    (1592712000, "epoch_s", NOW), (1592712000.5, "epoch_s", NOW + 500_000_000),
    (1592712000250, "epoch_ms", NOW + 250_000_000), (NOW // 1000, "epoch_us", NOW),
    (NOW, "epoch_ns", NOW),
])
def test_timestamps_in_every_format_are_exact(value: object, fmt: str, expect: int) -> None:
    from zoneinfo import ZoneInfo

    from collector.sources.mqtt.values import parse_time

    assert parse_time(value, fmt, ZoneInfo("Asia/Shanghai"), "t") == expect
