"""An edge collector behind a 4G uplink that is cut for ten simulated minutes.

Simulator (Modbus) -> edge collector -> the simulator's cuttable uplink -> Mosquitto ->
central collector -> InfluxDB. While the link is down the edge spools; afterwards nothing is
missing and the central collector sees each device's readings in the order they were taken.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

from collector.metrics import Metrics
from collector.reading import Reading
from collector.runner import Collector, build_sinks
from collector.sinks.base import CallbackSink
from collector.sinks.influx import InfluxSink
from config.simulator_mqtt import SimMqttSettings
from localsite.servers import InfluxServer, MosquittoServer, free_port
from simulator.fleet import Fleet
from simulator.mqtt_publisher import SimMqtt
from tests.mqtt_helpers import edge_and_centre, wait_until
from tests.test_mqtt_broker_restart import MS, stored_keys
from timebase.clock import Clock


async def test_a_cut_uplink_loses_nothing_and_keeps_each_devices_order(
        mosquitto: MosquittoServer, influxdb: InfluxServer, influx_db: str,
        tmp_path: Path) -> None:
    uplink_port = free_port()
    edge_cfg, centre_cfg = edge_and_centre(free_port(), mosquitto.port, influxdb.url, influx_db,
                                           tmp_path, edge_port=uplink_port, centre_id="centre-cut")
    edge_cfg.simulator.mqtt = SimMqttSettings.model_validate(
        {"uplink_port": uplink_port, "cuts": [{"from": 36_000, "until": 36_600}]})
    clock = Clock.starting(edge_cfg.simulator.start, edge_cfg.simulator.speed)
    produced: list[tuple[str, int]] = []
    received: dict[str, list[int]] = defaultdict(list)

    # device readings only: the alarm stage's own transitions (a silent uplink is
    # communication loss at the centre) are readings too, but not the devices' stream
    async def record(readings: Sequence[Reading]) -> None:
        produced.extend((r.device, r.ts_ns // MS * MS) for r in readings if r.kind != "alarm")

    async def arrive(readings: Sequence[Reading]) -> None:
        for r in readings:
            if r.kind != "alarm":
                received[r.device].append(r.ts_ns)

    edge_metrics, centre_metrics = Metrics(), Metrics()
    edge = Collector(edge_cfg, [*build_sinks(edge_cfg, edge_metrics), CallbackSink(record)],
                     clock)
    centre = Collector(centre_cfg, [InfluxSink(centre_cfg.influxdb, centre_metrics),
                                    CallbackSink(arrive)], clock, metrics=centre_metrics)
    sim_cfg = edge_cfg.model_copy(deep=True)  # the simulator relays to the broker itself
    sim_cfg.mqtt.port = mosquitto.port
    fleet = Fleet(sim_cfg, clock)
    sim = SimMqtt(fleet, sim_cfg, clock)
    async with fleet, sim:
        uplink = sim.edge_uplink
        assert uplink is not None
        start_ns = clock.sim_start_ns
        assert uplink.cuts == [(start_ns + 36_000 * 10**9, start_ns + 36_600 * 10**9)]
        await centre.start()
        await edge.start()
        await wait_until(lambda: centre_metrics.counters["mqtt_readings"] >= 8, 20, "flowing")
        # ten minutes from a minute after now: how long start-up takes on a loaded machine
        # must not decide whether the cut falls in the run
        now = clock.now_ns()
        uplink.cuts = [(now + 60 * 10**9, now + 660 * 10**9)]
        await wait_until(lambda: uplink.is_cut, 20, "the cut")
        await wait_until(lambda: edge_metrics.gauges["mqtt_spool_backlog_bytes"] > 0, 20,
                         "the edge spooling")
        cut_at = len(produced)
        await wait_until(lambda: not uplink.is_cut, 20, "the link back")
        assert len(produced) > cut_at + 10  # the edge polled on while cut off
        await wait_until(lambda: edge_metrics.gauges["mqtt_spool_backlog_bytes"] == 0, 20,
                         "the backlog published")
        await edge.stop()
        total = set(produced)
        await wait_until(lambda: set(stored_keys(influxdb, influx_db)) >= total, 20,
                         "everything stored")
        await centre.stop()
    assert uplink.was_cut and edge_metrics.counters["mqtt_connect_failures"] >= 1
    keys = stored_keys(influxdb, influx_db)
    assert set(keys) == total and len(keys) == len(total)
    for device, stamps in received.items():
        assert stamps == sorted(stamps) and len(stamps) == len(set(stamps)), device
