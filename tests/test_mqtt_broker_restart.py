"""Edge collector -> Mosquitto -> central collector -> InfluxDB across a broker restart.

The broker is stopped with SIGTERM mid-stream (it writes its persistence) and started again
while the edge keeps polling; the central collector is down for a stretch that overlaps the
broker's absence and goes on after it is back. Every reading the edge produced must be stored
exactly once: the stored (device, timestamp) set equals the produced set.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

from collector.metrics import Metrics
from collector.reading import Reading
from collector.runner import Collector, build_sinks
from collector.sinks.base import CallbackSink
from collector.sinks.influx import InfluxSink
from localsite.servers import InfluxServer, MosquittoServer, free_port
from simulator.fleet import Fleet
from tests.mqtt_helpers import edge_and_centre, wait_until
from timebase.clock import Clock

MS = 1_000_000


def stored_keys(server: InfluxServer, db: str) -> list[tuple[str, int]]:
    keys = []
    for measurement, field in (("inverter", "p_ac_w"), ("meter", "p_w")):
        for s in server.query(f'SELECT "device", "{field}" FROM "{measurement}"', db):
            keys += [(row[1], row[0]) for row in s["values"]]
    return keys


async def test_a_broker_restart_with_the_centre_down_too_loses_and_doubles_nothing(
        own_mosquitto: MosquittoServer, influxdb: InfluxServer, influx_db: str,
        tmp_path: Path) -> None:
    broker = own_mosquitto
    edge_cfg, centre_cfg = edge_and_centre(free_port(), broker.port, influxdb.url, influx_db,
                                           tmp_path)
    clock = Clock.starting(edge_cfg.simulator.start, edge_cfg.simulator.speed)
    produced: list[tuple[str, int]] = []

    async def record(readings: Sequence[Reading]) -> None:
        produced.extend((r.device, r.ts_ns // MS * MS) for r in readings if r.kind != "alarm")

    edge_metrics = Metrics()
    edge = Collector(edge_cfg, [*build_sinks(edge_cfg, edge_metrics), CallbackSink(record)],
                     clock)

    def centre(metrics: Metrics) -> Collector:
        return Collector(centre_cfg, [InfluxSink(centre_cfg.influxdb, metrics)], clock,
                         metrics=metrics)

    m1, m2 = Metrics(), Metrics()
    async with Fleet(edge_cfg, clock):
        first = centre(m1)
        await first.start()
        await edge.start()
        await wait_until(lambda: m1.counters["mqtt_readings"] >= 20, 20, "the stream flowing")
        broker.stop()  # SIGTERM: mosquitto saves the sessions and what is queued for them
        before = len(produced)
        await wait_until(lambda: len(produced) >= before + 12, 20, "the edge polling on")
        await first.stop()  # the centre goes down while the broker is away
        broker.start()  # same port, same persistence file
        await wait_until(lambda: edge_metrics.gauges["mqtt_publish_up"] == 1, 20, "edge back")
        await wait_until(lambda: len(produced) >= before + 30, 20, "more readings meanwhile")
        second = centre(m2)  # the same client id: its session was kept for it
        await second.start()
        await asyncio.sleep(0.5)
        await edge.stop()  # publishes what it still holds
        assert edge_metrics.gauges["mqtt_spool_backlog_bytes"] == 0
        total = set(produced)
        await wait_until(lambda: set(stored_keys(influxdb, influx_db)) >= total, 20,
                         "every produced reading stored")
        await second.stop()
    keys = stored_keys(influxdb, influx_db)
    assert len(keys) == len(set(keys))  # one point per (device, timestamp): never two
    assert set(keys) == total
    assert len(produced) == len(total)  # the edge made each reading once
    assert m1.counters["mqtt_readings"] + m2.counters["mqtt_readings"] >= len(total)
    assert edge_metrics.counters["mqtt_connect_failures"] >= 1  # it did see the broker go
