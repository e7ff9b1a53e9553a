"""The MQTT source against a real Mosquitto: TLS and passwords, sessions, bad input, duplicates."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from collector.metrics import Metrics
from collector.reading import Reading
from collector.sinks.mqtt import MqttSink
from collector.sinks.mqtt_payload import reading_payload, reading_topic
from collector.sources.mqtt.source import MqttSource
from config.profiles import load_registry
from config.schema import Config
from localsite.servers import MosquittoServer
from tests.conftest import MQTT_USERS
from tests.mqtt_helpers import publish, pushed_config, wait_until
from timebase.clock import Clock

REGISTRY = load_registry()
SUB = [{"topic": "pvrelief/+/+/+/reading", "mapping": "pvrelief"}]


class Got(list[Reading]):
    async def __call__(self, readings: Sequence[Reading]) -> None:
        self.extend(readings)


def config(server: MosquittoServer, tmp_path: Path, **mqtt: Any) -> Config:
    base: dict[str, Any] = {"host": "127.0.0.1", "port": server.port, "client_id": "centre",
                            "subscriptions": SUB, "reconnect_initial_s": 0.05,
                            "reconnect_max_s": 0.3, "keepalive_s": 5}
    if server.tls:
        base["tls"] = {"ca_file": str(server.ca_file)}
    return pushed_config(base | mqtt)


def message(device: str, i: int, now_ns: int, **fields: float) -> tuple[str, bytes]:
    r = Reading("inverter", "p1", device, now_ns - (1000 - i) * 10**9,
                fields or {"p_ac_w": float(i)}, village="v1")
    return reading_topic("pvrelief", "s1", r), reading_payload(r, "s1").encode()


async def test_over_tls_with_a_password_from_a_secret_file(
        mosquitto_tls: MosquittoServer, tmp_path: Path) -> None:
    secret = tmp_path / "mqtt.password"
    secret.write_text(MQTT_USERS["centre"] + "\n")
    cfg = config(mosquitto_tls, tmp_path, username="centre", password={"file": str(secret)})
    got, clock = Got(), Clock.real()
    source = MqttSource(cfg, REGISTRY, clock, got)
    await source.start()
    await wait_until(source.connected.is_set, 10, "connected")
    now = clock.now_ns()
    await publish(mosquitto_tls, [message("p1-inv-01", i, now) for i in range(5)], tls=True,
                  user=("edge", MQTT_USERS["edge"]))
    await wait_until(lambda: len(got) == 5, 10, "five readings")
    await source.stop(5)
    assert [r.fields["p_ac_w"] for r in got] == [0.0, 1.0, 2.0, 3.0, 4.0]


async def test_a_wrong_password_is_refused_loudly_and_what_waits_for_us_is_kept(
        mosquitto_tls: MosquittoServer, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    good = config(mosquitto_tls, tmp_path, username="centre", client_id="centre-pw",
                  password={"value": MQTT_USERS["centre"]})
    bad = config(mosquitto_tls, tmp_path, username="centre", client_id="centre-pw",
                 password={"value": "not-the-password"})
    clock, metrics = Clock.real(), Metrics()
    first = MqttSource(good, REGISTRY, clock, Got())  # the session the broker keeps
    await first.start()
    await wait_until(first.connected.is_set, 10, "connected")
    await first.stop(5)
    now = clock.now_ns()
    await publish(mosquitto_tls, [message("p1-inv-01", i, now) for i in range(20)], tls=True,
                  user=("edge", MQTT_USERS["edge"]))
    got = Got()
    refused = MqttSource(bad, REGISTRY, clock, got, metrics=metrics)
    with caplog.at_level(logging.ERROR, "collector.sources.mqtt.source"):
        await refused.start()
        await wait_until(lambda: metrics.counters["mqtt_auth_failures"] >= 2, 10, "refusals")
        await refused.stop(5)
    assert got == []
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert errors and "refused" in errors[0].getMessage()
    assert "not-the-password" not in caplog.text  # a secret never reaches the log
    assert "mqtt_subscribe" in metrics.problems  # /healthz answers 503
    fixed = MqttSource(good, REGISTRY, clock, got)
    await fixed.start()
    await wait_until(lambda: len(got) == 20, 10, "the queued readings")
    await fixed.stop(5)


async def test_the_edge_sink_with_a_wrong_password_keeps_its_spool(
        mosquitto_tls: MosquittoServer, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    def edge(password: str) -> Config:
        return pushed_config({
            "host": "127.0.0.1", "port": mosquitto_tls.port, "client_id": "edge-pw",
            "username": "edge", "password": {"value": password}, "reconnect_initial_s": 0.05,
            "reconnect_max_s": 0.3, "tls": {"ca_file": str(mosquitto_tls.ca_file)},
            "publish": {"spool_dir": str(tmp_path / "spool"), "linger_s": 0.05,
                        "close_timeout_s": 0.5}})

    clock, metrics = Clock.real(), Metrics()
    now = clock.now_ns()
    readings = [Reading("inverter", "p1", "p1-inv-01", now - i * 10**9, {"p_ac_w": 1.0})
                for i in range(10)]
    sink = MqttSink(edge("wrong").mqtt, "s1", metrics)
    with caplog.at_level(logging.ERROR, "collector.sinks.mqtt"):
        await sink.start()
        await sink.put(readings)
        await wait_until(lambda: metrics.counters["mqtt_auth_failures"] >= 1, 10, "a refusal")
        await sink.close()
    assert any("refused" in r.getMessage() for r in caplog.records if r.levelno == logging.ERROR)
    assert metrics.counters["mqtt_published"] == 0
    got = Got()
    source = MqttSource(config(mosquitto_tls, tmp_path, username="centre", client_id="c-pw",
                               password={"value": MQTT_USERS["centre"]}), REGISTRY, clock, got)
    await source.start()
    await wait_until(source.connected.is_set, 10, "centre connected")
    again = MqttSink(edge(MQTT_USERS["edge"]).mqtt, "s1")
    await again.start()
    await wait_until(lambda: len(got) == 10, 10, "the spooled readings")
    await again.close()
    await source.stop(5)


async def test_bad_input_is_counted_logged_once_kept_and_never_stalls_the_stream(
        mosquitto: MosquittoServer, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    quarantine = tmp_path / "bad.jsonl"
    cfg = config(mosquitto, tmp_path, client_id="centre-bad", bad_input_file=str(quarantine),
                 subscriptions=[*SUB, {"topic": "sunlog/+/+/data", "mapping": "sunlog-json"}])
    got, clock, metrics = Got(), Clock.real(), Metrics()
    source = MqttSource(cfg, REGISTRY, clock, got, metrics=metrics)
    await source.start()
    await wait_until(source.connected.is_set, 10, "connected")
    now = clock.now_ns()
    years_away = json.loads(message("p1-inv-01", 0, now)[1])
    years_away["ts_ns"] = now + 3 * 365 * 86_400 * 10**9
    bad = [
        ("pvrelief/s1/p1/p1-inv-01/reading", b"\x00\x01 not json"),
        ("pvrelief/s1/p1/p1-inv-01/reading", b'{"schema": "pvrelief.reading/1"}'),
        ("pvrelief/s1/p1/p1-inv-01/reading", json.dumps(years_away).encode()),
        ("pvrelief/s1/p1/nobody/reading", message("nobody", 0, now)[1]),
        ("pvrelief/s1/p1/p1-inv-01/reading", b"{" + b" " * (10 * 1024 * 1024) + b"}"),
        ("sunlog/p1/x/data", b'{"sn": "P1-INV-02", "time": "2020-01-01T00:00:00+08:00", '
                             b'"data": {"pac": "many"}}'),
        ("sunlog/p1/x/data", b'{"sn": "P1-INV-02", "time": "' +
         clock_iso(now).encode() + b'", "data": {"pac": "many", "etotal": 5.0}}'),
    ]
    with caplog.at_level(logging.WARNING, "collector.sources.mqtt.badinput"):
        await publish(mosquitto, [message("p1-inv-01", 1, now)] + bad * 3 +
                      [message("p1-inv-01", 2, now)])
        await wait_until(lambda: len(got) == 3, 20, "the good readings after the bad ones")
    await source.stop(5)
    assert [(r.device, r.fields.get("p_ac_w"), r.fields.get("e_total_kwh")) for r in got] == [
        ("p1-inv-01", 1.0, None), ("p1-inv-02", None, 5.0), ("p1-inv-01", 2.0, None)]
    assert metrics.counters["mqtt_duplicates"] == 2  # the logger's reading, sent three times
    assert metrics.bad_input == {"not_json": 3, "missing_field": 3, "timestamp_out_of_range": 6,
                                 "unknown_device": 3, "too_large": 3, "wrong_type": 3}
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 6  # once per reason within the minute
    assert all("on topic " in line for line in lines)
    assert any("pvrelief/s1/p1/nobody/reading" in line for line in lines)
    kept = [json.loads(line) for line in quarantine.read_text().splitlines()]
    assert {k["reason"] for k in kept} == {"not_json", "missing_field",
                                           "timestamp_out_of_range", "unknown_device"}
    assert all(len(k["payload"]) <= 4096 for k in kept)
    assert "pvrelief_mqtt_bad_input_total{reason=\"too_large\"} 3" in metrics.render()


def clock_iso(ns: int) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ns / 1e9, UTC).isoformat()


async def test_a_persistent_session_keeps_messages_and_duplicates_make_one_reading(
        mosquitto: MosquittoServer, tmp_path: Path) -> None:
    cfg = config(mosquitto, tmp_path, client_id="centre-session")
    got, clock, metrics = Got(), Clock.real(), Metrics()
    first = MqttSource(cfg, REGISTRY, clock, got, metrics=metrics)
    await first.start()
    await wait_until(first.connected.is_set, 10, "connected")
    now = clock.now_ns()
    await publish(mosquitto, [message("p1-inv-01", 0, now)] * 2)  # an edge resending
    await wait_until(lambda: metrics.counters["mqtt_messages"] == 2, 10, "two messages")
    await first.stop(5)
    await publish(mosquitto, [message("p1-inv-01", i, now) for i in range(1, 30)])
    back = MqttSource(cfg, REGISTRY, clock, got, metrics=metrics)
    await back.start()
    await wait_until(lambda: len(got) == 30, 10, "what arrived while we were away")
    await back.stop(5)
    assert [r.fields["p_ac_w"] for r in got] == [float(i) for i in range(30)]
    assert metrics.counters["mqtt_duplicates"] == 1
