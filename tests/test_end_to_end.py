"""Simulator -> collector -> real InfluxDB: what is stored is what the devices counted."""

from __future__ import annotations

import bisect
from pathlib import Path

from collector.runner import Collector
from collector.sinks.influx import InfluxSink
from config.loader import load_config
from localsite.servers import InfluxServer
from simulator.fleet import Fleet
from tests.e2e_helpers import small_fleet_config
from tests.waiting import wait_until
from timebase.clock import Clock


class RecordingFleet(Fleet):
    """A fleet that remembers each device's true counter at every physics step."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.history: dict[str, list[tuple[int, float]]] = {d: [] for d in self.devices}

    def step(self, t_ns: int) -> None:
        super().step(t_ns)
        for dev_id, counters in self.ground_truth().items():
            kwh = counters.get("e_total_kwh", counters.get("e_export_kwh"))
            self.history[dev_id].append((t_ns, kwh))

    def truth_at(self, dev_id: str, t_ns: int) -> float:
        """The counter as the device knew it at ``t_ns`` (interpolated between steps)."""
        times = [t for t, _ in self.history[dev_id]]
        i = bisect.bisect_right(times, t_ns)
        assert i > 0, "a reading older than the simulation"
        if i == len(times):
            return self.history[dev_id][-1][1]
        (t0, v0), (t1, v1) = self.history[dev_id][i - 1], self.history[dev_id][i]
        return v0 + (v1 - v0) * (t_ns - t0) / (t1 - t0)


async def test_stored_counters_match_simulator_within_one_poll(
    tmp_path: Path, influxdb: InfluxServer, influx_db: str
) -> None:
    poll_s = 60.0
    cfg = load_config(small_fleet_config(tmp_path, influxdb.url, influx_db, poll_s=poll_s))
    clock = Clock.starting(cfg.simulator.start, cfg.simulator.speed)
    fleet = RecordingFleet(cfg, clock)
    sink = InfluxSink(cfg.influxdb)
    collector = Collector(cfg, [sink], clock)
    async with fleet:
        await collector.start()
        # at least 8 polls of every device, however loaded the machine is
        await wait_until(lambda: all(p.state.polls >= 8 for p in collector.pollers), 60)
        await collector.stop()

    for dev_id, device in fleet.devices.items():
        kind = "meter" if "meter" in dev_id else "inverter"
        field = "e_export_kwh" if kind == "meter" else "e_total_kwh"
        series = influxdb.query(f"SELECT {field} FROM {kind} WHERE device = '{dev_id}'",
                                influx_db)
        assert series, f"nothing stored for {dev_id}"
        stored = series[0]["values"]
        assert len(stored) >= 8
        rated_kw = getattr(device, "rated_kw_ac", 250.0)
        one_poll_kwh = rated_kw * poll_s / 3600.0
        for ts, kwh in stored:
            # the register lags the truth by at most a physics tick plus the read: < one poll
            lag = fleet.truth_at(dev_id, ts) - kwh
            assert -0.01 <= lag <= one_poll_kwh, (dev_id, ts, kwh, lag)
        # and what is stored rises as the device's counter does
        assert [v for _, v in stored] == sorted(v for _, v in stored)


async def test_every_reading_is_tagged_and_carries_status(
    tmp_path: Path, influxdb: InfluxServer, influx_db: str
) -> None:
    cfg = load_config(small_fleet_config(tmp_path, influxdb.url, influx_db, inverters=1))
    clock = Clock.starting(cfg.simulator.start, cfg.simulator.speed)
    sink = InfluxSink(cfg.influxdb)
    async with Fleet(cfg, clock):
        collector = Collector(cfg, [sink], clock)
        await collector.start()
        await wait_until(lambda: all(p.state.polls >= 2 for p in collector.pollers), 30)
        await collector.stop()
    rows = influxdb.query(
        "SELECT p_ac_w, status, plant, village FROM inverter WHERE device = 'p1-inv'",
        influx_db)[0]
    cols = rows["columns"]
    for values in rows["values"]:
        rec = dict(zip(cols, values, strict=True))
        assert rec["plant"] == "p1" and rec["village"] == "v1"
        assert rec["status"] == "running"  # 11:00 on the solstice in Qinghai
        assert rec["p_ac_w"] > 0
