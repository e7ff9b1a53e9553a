"""Simulator -> collector (Modbus and DL/T 645 sources on their schedules) -> real InfluxDB:
a DL/T 645 settlement meter's stored energy is what it counted, the allocator's reader finds
it like a Modbus meter's, and the bus never saw two transmissions at once."""

from __future__ import annotations

from pathlib import Path

import pytest

from allocator.energy_influx import fetch_readings
from collector.runner import Collector
from collector.sinks.influx import InfluxSink
from config.schema import Config
from influx.client import InfluxClient
from localsite.servers import InfluxServer, free_port
from tests.test_end_to_end import RecordingFleet
from tests.waiting import wait_until
from timebase.clock import Clock

CT = 20  # the settlement meter sits behind 100/5 A transformers


class Recording(RecordingFleet):
    """RecordingFleet, remembering the DL/T 645 meters' counters too."""

    def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self.history.update({m: [] for m in self.dlt645.meters})


def config(tmp_path: Path, influx: InfluxServer, db: str) -> Config:
    port = free_port()
    return Config.model_validate({
        "site": {"id": "test"},
        "influxdb": {"url": influx.url, "database": db, "linger_s": 0.2,
                     "spool_dir": str(tmp_path / "spool")},
        "collector": {"timeout_s": 1.0},
        "simulator": {"start": "2020-06-21T11:00:00+08:00", "speed": 600, "seed": 7,
                      "tick_s": 10},
        "counties": [{"id": "gonghe", "plants": [{
            "id": "p1", "capacity_kwp_dc": 300, "capacity_kw_ac": 250, "latitude": 36.27,
            "longitude": 100.62, "altitude_m": 2800,
            "devices": [
                {"id": "p1-inv", "profile": "sunspec-inverter", "port": port, "unit_id": 1,
                 "repeat": 2, "poll_interval_s": 60},
                {"id": "p1-check", "profile": "sunspec-meter", "port": port, "unit_id": 100,
                 "poll_interval_s": 60}],
            "dlt645_gateways": [{"id": "rs485", "port": free_port(), "baud": 9600,
                                 "meters": [{"id": "p1-gk", "address": "000012345678",
                                             "export_is": "reverse", "ct_ratio": CT,
                                             "poll_interval_s": 60}]}],
        }]}],
    })


async def test_settlement_meter_energy_reaches_influxdb_and_the_allocators_reader(
    tmp_path: Path, influxdb: InfluxServer, influx_db: str
) -> None:
    cfg = config(tmp_path, influxdb, influx_db)
    clock = Clock.starting(cfg.simulator.start, cfg.simulator.speed)
    fleet = Recording(cfg, clock)
    collector = Collector(cfg, [InfluxSink(cfg.influxdb)], clock)
    gk = next(p for p in collector.pollers if p.device.id == "p1-gk")
    async with fleet:
        await collector.start()
        await wait_until(lambda: gk.state.polls >= 6, 90, "six polls of the DL/T 645 meter")
        await collector.stop()
    assert gk.state.failures == 0
    assert fleet.dlt645.gateways[0].collisions == 0

    series = influxdb.query("SELECT e_export_kwh, e_export_t3_kwh, p_w FROM meter "
                            "WHERE device = 'p1-gk'", influx_db)
    stored = series[0]["values"]
    assert len(stored) >= 6
    for ts, kwh, flat, p_w in stored:
        # the meter shows the truth as of its last physics step, in counts of 0.01 x CT kWh;
        # the reading is stamped after the poll's reads, so the truth may have moved on
        lag = fleet.truth_at("p1-gk", ts) - kwh
        assert -0.01 * CT <= lag <= 250 * 1.2 * 600 / 3600 + 0.01 * CT, (ts, kwh, lag)
        assert flat is not None and p_w > 0  # noon: exporting, counted as positive
    values = [v for _, v, _, _ in stored]
    assert values == sorted(values) and values[-1] > values[0]

    # the allocator reads a plant's settlement meter by its device id, whatever it speaks
    first, last = stored[0][0], stored[-1][0]
    with InfluxClient(cfg.influxdb, trust_env=False) as client:
        t, wh = fetch_readings(client, "p1", "p1-gk", first - 1, last)
    assert len(t) == len(stored)
    assert wh[-1] - wh[0] == pytest.approx((values[-1] - values[0]) * 1000, abs=1)
