"""The MQTT sink (edge) against a real Mosquitto: schema, store and forward, last will."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from collector.metrics import Metrics
from collector.reading import Quality, Reading
from collector.runner import build_sinks
from collector.sinks.influx import InfluxSink
from collector.sinks.mqtt import MqttSink
from collector.sinks.mqtt_payload import SCHEMA
from config.schema import Config
from localsite.servers import MosquittoServer
from simulator.uplink import Uplink
from tests.mqtt_helpers import mqtt_settings, recording, wait_until
from timebase.clock import Clock

T0_NS = 1_592_712_000_000_000_000  # 2020-06-21T04:00:00Z


def publish_settings(server: MosquittoServer, tmp_path: Path, port: int | None = None,
                     **kw: Any) -> Any:
    s = mqtt_settings(server, client_id="edge1", publish={
        "spool_dir": str(tmp_path / "spool"), "linger_s": 0.05, "batch_size": 20,
        "spool_max_bytes": 8 * 1024 * 1024, "spool_segment_bytes": 64 * 1024,
        "publish_timeout_s": 5, "close_timeout_s": 2, **kw})
    if port is not None:
        s.port = port
    return s


def reading(device: str, i: int, **kw: Any) -> Reading:
    base: dict[str, Any] = dict(
        kind="inverter", plant="p1", device=device, ts_ns=T0_NS + i * 60_000_000_000,
        fields={"p_ac_w": 1000.0 + i, "e_total_kwh": 500.0 + i / 60}, village="v1",
        counters={"e_total_kwh": "lifetime"})
    return Reading(**(base | kw))


async def test_each_reading_is_one_message_in_the_documented_schema(
        mosquitto: MosquittoServer, tmp_path: Path) -> None:
    settings = publish_settings(mosquitto, tmp_path)
    odd = reading("inv-2", 0, fields={"p_ac_w": 5.0, "t_internal_c": None},
                  quality={"t_internal_c": Quality.NOT_IMPLEMENTED}, status="fault",
                  faults=(2032, 2064), wrap_at={"e_total_kwh": 4294967.295})
    async with recording(mosquitto, "pvrelief/#") as rec:
        sink = MqttSink(settings, "site1")
        await sink.start()
        await sink.put([reading("inv-1", 0), odd, reading("inv-1", 1, status="running")])
        await wait_until(lambda: len(rec.json()) == 3, 10, "three readings")
        await sink.close()
        await wait_until(lambda: any(
            t.endswith("_edge/edge1-pub/status") and b'"online":false' in p
            for t, p, _ in rec.messages), 10, "offline on a clean close")
    first, second, third = rec.json()
    assert first == {"schema": SCHEMA, "site": "site1", "plant": "p1", "device": "inv-1",
                     "kind": "inverter", "village": "v1", "ts_ns": T0_NS,
                     "fields": {"p_ac_w": 1000.0, "e_total_kwh": 500.0},
                     "counters": {"e_total_kwh": "lifetime"}}
    assert second["fields"] == {"p_ac_w": 5.0, "t_internal_c": None}
    assert second["quality"] == {"t_internal_c": "not_implemented"}
    assert (second["status"], second["faults"]) == ("fault", [2032, 2064])
    assert second["wrap_at"] == {"e_total_kwh": 4294967.295}
    assert third["status"] == "running" and "faults" not in third
    topics = [t for t, _, _ in rec.messages]
    assert "pvrelief/site1/p1/inv-2/reading" in topics
    status = rec.last("pvrelief/site1/p1/inv-2/status")
    assert status is not None and status["status"] == "fault" and status["faults"] == [2032, 2064]
    assert [r for t, _, r in rec.messages if t.endswith("/status")] and \
        all(retain is False for t, _, retain in rec.messages if t.endswith("/reading"))
    # the broker keeps the retained state for whoever subscribes later
    async with recording(mosquitto, "pvrelief/site1/+/+/status") as late:
        await wait_until(lambda: len(late.messages) >= 2, 10, "retained status")
    assert all(retain for _, _, retain in late.messages)


async def test_a_cut_uplink_spools_and_publishes_everything_in_order_afterwards(
        mosquitto: MosquittoServer, tmp_path: Path) -> None:
    clock = Clock.real()
    metrics = Metrics()
    async with Uplink(("127.0.0.1", mosquitto.port), clock) as uplink, \
            recording(mosquitto, "pvrelief/site2/#") as rec:
        sink = MqttSink(publish_settings(mosquitto, tmp_path, uplink.port), "site2", metrics)
        await sink.start()
        await sink.put([reading("inv-1", 0)])
        await wait_until(lambda: len(rec.json()) == 1, 10, "the first reading")
        uplink.cut()
        for i in range(1, 120):
            await sink.put([reading("inv-1", i), reading("inv-2", i)])
        await wait_until(lambda: metrics.gauges["mqtt_spool_backlog_bytes"] > 0, 10, "spooling")
        await wait_until(lambda: metrics.gauges["mqtt_publish_up"] == 0, 10, "link down")
        assert len(rec.json()) == 1  # nothing got through the cut link
        uplink.restore()
        await wait_until(lambda: sink.caught_up, 20, "the backlog published")
        await wait_until(lambda: len(rec.json()) >= 239, 20, "the backlog delivered")
        await sink.close()
    got = [(m["device"], m["ts_ns"]) for m in rec.json()]
    assert set(got) == {("inv-1", T0_NS)} | {(d, reading(d, i).ts_ns) for i in range(1, 120)
                                               for d in ("inv-1", "inv-2")}
    for dev in ("inv-1", "inv-2"):
        ts = [t for d, t in got if d == dev]
        assert ts == sorted(ts), f"{dev} out of order"
    assert metrics.counters["mqtt_published"] >= 239
    assert metrics.gauges["mqtt_spool_backlog_bytes"] == 0


async def test_a_backlog_left_at_close_is_published_by_the_next_run(
        mosquitto: MosquittoServer, tmp_path: Path) -> None:
    async with Uplink(("127.0.0.1", mosquitto.port), Clock.real()) as uplink, \
            recording(mosquitto, "pvrelief/site3/#") as rec:
        settings = publish_settings(mosquitto, tmp_path, uplink.port)
        uplink.cut()
        sink = MqttSink(settings, "site3")
        await sink.start()
        await sink.put([reading("inv-1", i) for i in range(50)])
        await sink.close()  # the link is down: it all stays in the spool
        assert not sink.caught_up
        uplink.restore()
        again = MqttSink(settings, "site3")
        await again.start()
        await wait_until(lambda: len(rec.json()) == 50, 20, "the earlier run's readings")
        await again.close()
    assert [m["ts_ns"] for m in rec.json()] == [reading("inv-1", i).ts_ns for i in range(50)]


async def test_the_last_will_says_offline_when_the_link_dies(
        mosquitto: MosquittoServer, tmp_path: Path) -> None:
    topic = "pvrelief/site4/_edge/edge1-pub/status"
    async with Uplink(("127.0.0.1", mosquitto.port), Clock.real()) as uplink, \
            recording(mosquitto, topic) as rec:
        sink = MqttSink(publish_settings(mosquitto, tmp_path, uplink.port), "site4")
        await sink.start()
        await wait_until(lambda: (rec.last(topic) or {}).get("online") is True, 10, "online")
        uplink.cut()  # no DISCONNECT reaches the broker: it publishes the will
        await wait_until(lambda: (rec.last(topic) or {}).get("online") is False, 10, "the will")
        uplink.restore()
        await wait_until(lambda: (rec.last(topic) or {}).get("online") is True, 10, "online again")
        await sink.close()
    assert [json.loads(p)["online"] for _, p, _ in rec.messages][-1] is False


def test_build_sinks_runs_it_beside_the_influxdb_sink_or_instead(tmp_path: Path) -> None:
    def kinds(**publish: Any) -> list[type]:
        cfg = Config.model_validate({"mqtt": {"publish": {"spool_dir": str(tmp_path), **publish}}})
        return [type(s) for s in build_sinks(cfg, Metrics())]

    assert kinds() == [MqttSink]
    assert kinds(with_influxdb=True) == [InfluxSink, MqttSink]
    assert [type(s) for s in build_sinks(Config(), Metrics())] == [InfluxSink]
