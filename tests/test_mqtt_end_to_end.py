"""Simulator -> Mosquitto -> collector -> InfluxDB, one plant per payload mapping.

Each plant's devices push their readings in one shape (an edge's pvrelief JSON, a logger's JSON
object, a logger's value per topic); the stored points must be exactly what was published, at
the timestamps it carried, and each counter's stored rise must equal the simulator's truth.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from collector.metrics import Metrics
from collector.runner import Collector
from collector.sinks.influx import InfluxSink
from config.schema import Config
from localsite.servers import InfluxServer, MosquittoServer
from simulator.fleet import Fleet
from simulator.mqtt_publisher import SimMqtt
from tests.mqtt_helpers import pushed_plant, stored, wait_until
from timebase.clock import Clock

START = "2020-06-21T11:00:00+08:00"
WINDOW_NS = 60 * 10**9  # the sunlog-topics mapping's window


def three_plants(mosquitto: MosquittoServer, influx: InfluxServer, db: str,
                 tmp_path: Path) -> Config:
    return Config.model_validate({
        "site": {"id": "s1"},
        "influxdb": {"url": influx.url, "database": db, "linger_s": 0.1,
                     "spool_dir": str(tmp_path / "spool")},
        "mqtt": {"host": "127.0.0.1", "port": mosquitto.port, "client_id": "e2e",
                 "reconnect_initial_s": 0.05, "reconnect_max_s": 0.3, "subscriptions": [
                     {"topic": "pvrelief/+/+/+/reading", "mapping": "pvrelief"},
                     {"topic": "sunlog/+/+/data", "mapping": "sunlog-json"},
                     {"topic": "sunlogt/+/+/+", "mapping": "sunlog-topics"}]},
        "simulator": {"start": START, "speed": 300, "seed": 3, "tick_s": 10, "mqtt": {"plants": [
            {"plant": "pe", "shape": "pvrelief", "interval_s": 60},
            {"plant": "pj", "shape": "json", "interval_s": 60},
            {"plant": "pt", "shape": "per-topic", "interval_s": 120, "prefix": "sunlogt"}]}},
        "counties": [{"id": "c1", "townships": [{"id": "t1", "villages": [
            pushed_plant("pe", "ve"), pushed_plant("pj", "vj"),
            pushed_plant("pt", "vt", profile="huawei-sun2000")]}]}],
    })


@pytest.fixture
async def run(mosquitto: MosquittoServer, influxdb: InfluxServer, influx_db: str,
              tmp_path: Path) -> tuple[Config, SimMqtt, Metrics]:
    cfg = three_plants(mosquitto, influxdb, influx_db, tmp_path)
    clock = Clock.starting(cfg.simulator.start, cfg.simulator.speed)
    metrics = Metrics()
    collector = Collector(cfg, [InfluxSink(cfg.influxdb, metrics)], clock, metrics=metrics)
    fleet = Fleet(cfg, clock)
    sim = SimMqtt(fleet, cfg, clock)
    async with fleet:
        await collector.start()
        await wait_until(lambda: metrics.gauges["mqtt_subscribe_up"] == 1, 10, "subscribed")
        await sim.start()
        await wait_until(lambda: all(len(v) >= 8 for v in sim.published.values()), 60,
                         "eight publishes of every device")
        await sim.stop()  # drains its queue into the broker
        sent = sum(len(v) for v in sim.published.values())
        await wait_until(lambda: metrics.counters["mqtt_readings"] >= sent - 3, 20, "readings")
        await asyncio.sleep(0.3)
        await collector.stop()  # closes the per-topic windows, flushes the sink
    return cfg, sim, metrics


def check_device(server: InfluxServer, db: str, dev: str, kind: str,
                 published: list[tuple[int, dict[str, float]]], window_ns: int | None) -> None:
    points = stored(server, db, kind, dev)
    expect: dict[int, dict[str, float]] = {}
    for ts, fields in published:
        key = ts - ts % window_ns if window_ns else ts // 10**6 * 10**6  # precision: ms
        expect[key] = fields
    assert set(points) == set(expect), dev
    for ts, fields in expect.items():
        got = points[ts]
        assert not [k for k in got if k.startswith("q_")], (dev, got)
        for name, value in fields.items():
            if name in ("p_ac_w", "e_total_kwh", "p_w", "e_export_kwh", "e_import_kwh"):
                assert got.get(name) == pytest.approx(value, rel=1e-12, abs=1e-9), (dev, name)
    counter = "e_total_kwh" if kind == "inverter" else "e_export_kwh"
    values = [points[t][counter] for t in sorted(points)]
    truth = published[-1][1][counter] - published[0][1][counter]
    assert values[-1] - values[0] == pytest.approx(truth, rel=1e-9), dev
    assert truth > 0 or kind == "meter"


async def test_every_mapping_stores_exactly_what_was_published(
        run: tuple[Config, SimMqtt, Metrics], influxdb: InfluxServer, influx_db: str) -> None:
    cfg, sim, metrics = run
    assert metrics.bad_input == {}
    for plant, dev in cfg.devices("mqtt"):  # pe: pvrelief, pj: json, pt: per-topic
        kind = "meter" if dev.id.endswith("meter") else "inverter"
        check_device(influxdb, influx_db, dev.id, kind, sim.published[dev.id],
                     WINDOW_NS if plant.id == "pt" else None)
