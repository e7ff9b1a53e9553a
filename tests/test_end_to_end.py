"""Simulator -> collector -> real InfluxDB: what is stored is what the devices counted."""

from __future__ import annotations

import asyncio
from pathlib import Path

from collector.clock import SimClock
from collector.runner import Collector
from collector.sinks.influx import InfluxSink
from config.loader import load_config
from pvrelief.services import InfluxServer
from simulator.fleet import Fleet
from tests.e2e_helpers import small_fleet_config


async def _wait_until(predicate, timeout: float) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met before the deadline")
        await asyncio.sleep(0.05)


async def test_stored_counters_match_simulator_within_one_poll(
    tmp_path: Path, influxdb: InfluxServer, influx_db: str
) -> None:
    poll_s = 60.0
    cfg = load_config(small_fleet_config(tmp_path, influxdb.url, influx_db, poll_s=poll_s))
    clock = SimClock.starting(cfg.simulator.start, cfg.simulator.speed)
    fleet = Fleet(cfg, clock)
    sink = InfluxSink(cfg.influxdb)
    collector = Collector(cfg, sink.put, clock)
    async with fleet:
        await sink.start()
        await collector.start()
        # at least 8 polls of every device, however loaded the machine is
        await _wait_until(lambda: all(p.state.polls >= 8 for p in collector.pollers), 60)
        await collector.stop()
        await sink.close()
    truth = fleet.ground_truth()

    for dev_id, counters in truth.items():
        kind = "meter" if "meter" in dev_id else "inverter"
        field = "e_export_kwh" if kind == "meter" else "e_total_kwh"
        series = influxdb.query(
            f"SELECT last({field}), count({field}) FROM {kind} WHERE device = '{dev_id}'",
            influx_db)
        assert series, f"nothing stored for {dev_id}"
        _, last_kwh, count = series[0]["values"][0]
        assert count >= 8
        device = fleet.devices[dev_id]
        rated_kw = getattr(device, "rated_kw_ac", 250.0)
        one_poll_kwh = rated_kw * poll_s / 3600.0
        # stored <= truth (the device kept counting after the last poll), by < one poll's energy
        assert 0.0 <= counters[field] - last_kwh <= one_poll_kwh, (dev_id, last_kwh, counters)


async def test_every_reading_is_tagged_and_carries_status(
    tmp_path: Path, influxdb: InfluxServer, influx_db: str
) -> None:
    cfg = load_config(small_fleet_config(tmp_path, influxdb.url, influx_db, inverters=1))
    clock = SimClock.starting(cfg.simulator.start, cfg.simulator.speed)
    sink = InfluxSink(cfg.influxdb)
    async with Fleet(cfg, clock):
        await sink.start()
        collector = Collector(cfg, sink.put, clock)
        await collector.start()
        await _wait_until(lambda: all(p.state.polls >= 2 for p in collector.pollers), 30)
        await collector.stop()
        await sink.close()
    rows = influxdb.query(
        "SELECT p_ac_w, status, plant, village FROM inverter WHERE device = 'p1-inv'",
        influx_db)[0]
    cols = rows["columns"]
    for values in rows["values"]:
        rec = dict(zip(cols, values, strict=True))
        assert rec["plant"] == "p1" and rec["village"] == "v1"
        assert rec["status"] == "running"  # 11:00 on the solstice in Qinghai
        assert rec["p_ac_w"] > 0
