"""A two-plant fleet, simulated and collected into a real InfluxDB, for the dashboards' queries.

Plant p1 has Huawei SUN2000 inverters (they report insulation resistance and temperature,
SunSpec inverters do not) and one of them raises alarm 2064 for a window, so the fault panels
have data; plant p2 has Sungrow inverters. Each plant has a settlement meter. A few
``revenue`` points are written as the allocator writes them (allocator/revenue_points.py), and
the month's ``kpi`` points as ``pvrelief kpi`` writes them; the collector's alarm stage writes
the ``alarm`` points (the fault and the silent inverter raise alarms).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from collector.runner import Collector
from collector.sinks.influx import InfluxSink
from config.loader import load_config
from config.profiles import load_registry
from influx import names
from influx.lineprotocol import line
from localsite.servers import InfluxServer, free_port
from simulator.fleet import Fleet
from tests.waiting import wait_until
from timebase.clock import Clock

START = "2020-06-21T11:00:00+08:00"  # late morning on the solstice in Gonghe: all running
POLLS = 12  # a simulated 12 minutes at least: SILENT is silent for 7 of them
SILENT = "p2-inv-03"  # stops answering after 5 simulated minutes: communication lost
FAULTY = "p1-inv-02"  # `repeat: 3` names the copies <id>-01 .. <id>-03
PASSING = "p1-inv-01"  # reports alarm 2063 for a while: raised and cleared within the run
MONTH_START = datetime(2020, 5, 31, 16, tzinfo=UTC)  # 2020-06-01 00:00 Asia/Shanghai


def _village(pid: str, port: int, profile: str, meter: str) -> dict[str, Any]:
    return {"id": "v" + pid[1:], "plants": [{
        "id": pid, "capacity_kwp_dc": 300, "capacity_kw_ac": 250,
        "latitude": 36.27, "longitude": 100.62, "altitude_m": 2800,
        "devices": [
            {"id": f"{pid}-inv", "profile": profile, "port": port, "unit_id": 1,
             "repeat": 3, "poll_interval_s": 60},
            {"id": f"{pid}-meter", "profile": meter, "port": port, "unit_id": 100,
             "poll_interval_s": 60},
        ],
    }]}


def fleet_config(tmp_path: Path, influx_url: str, database: str) -> Path:
    cfg = {
        "site": {"id": "grafana-test"},
        "influxdb": {"url": influx_url, "database": database, "linger_s": 0.2,
                     "spool_dir": str(tmp_path / "spool")},
        "collector": {"timeout_s": 1.0},
        # 240x: the silent device goes quiet 1.25 s (real) after the start, so it has answered
        # a few polls first even on a loaded machine (at 600x it had 0.5 s, and under load
        # sometimes none: then it has no last status to show)
        # a short hold, so PASSING's alarm clears within the run (the default is 300 s)
        "alarms": {"hold_s": 60},
        "simulator": {"start": START, "speed": 240, "seed": 11, "tick_s": 10, "faults": [
            # from the 3rd simulated minute to the end: the fault is still active at the end
            {"device": FAULTY, "kind": "fault_code", "code": 2064, "from": 180},
            {"device": SILENT, "kind": "no_answer", "from": 300},
            {"device": PASSING, "kind": "fault_code", "code": 2063, "from": 360, "until": 480},
        ]},
        "counties": [{"id": "gonghe", "townships": [{"id": "t1", "villages": [
            _village("p1", free_port(), "huawei-sun2000", "sunspec-meter"),
            _village("p2", free_port(), "sungrow-sg", "chint-dtsu666"),
        ]}]}],
    }
    path = tmp_path / "fleet.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


async def fill(tmp_path: Path, influxdb: InfluxServer, database: str) -> None:
    """Run simulator and collector until every device was polled POLLS times."""
    registry = load_registry()  # loaded once, before the simulated clock starts running
    cfg = load_config(fleet_config(tmp_path, influxdb.url, database), registry)
    clock = Clock.starting(cfg.simulator.start, cfg.simulator.speed)
    sink = InfluxSink(cfg.influxdb)
    collector = Collector(cfg, [sink], clock, registry)
    async with Fleet(cfg, clock, registry):
        await collector.start()
        try:
            # the silent device's polls fail (and back off): only the others are counted
            await wait_until(lambda: all(p.state.polls >= POLLS for p in collector.pollers
                                          if p.device.id != SILENT),
                              60, f"every answering device polled {POLLS} times")
        finally:
            await collector.stop()
        write_revenue(influxdb, database)
        await write_kpis(cfg, clock.now_ns())


def acknowledge_the_fault(cfg: Any) -> None:
    """A technician takes FAULTY's alarm, as `pvrelief alarms ack` does."""
    from collector.alarms.store import AlarmStore

    store = AlarmStore(cfg.state_path, create=False)
    (alarm,) = [a for a in store.query(active=True) if a.device == FAULTY]
    store.acknowledge(alarm.id, "王工", "on my way")
    store.close()


async def write_kpis(cfg: Any, now_ns: int) -> None:
    """The month's KPIs as `pvrelief kpi` writes them (alarms from this run's state)."""
    from reports.kpi.run import compute, open_store, write_points

    def month() -> None:  # one thread: SQLite connections stay in the thread that made them
        acknowledge_the_fault(cfg)
        results = compute(cfg, load_registry(), "2020-06", [], now_ns, open_store(cfg))
        write_points(cfg, results)

    await asyncio.to_thread(month)


def revenue_line(plant: str, village: str, period: str, at: datetime, net_fen: int) -> str:
    """One point as allocator.revenue_points.revenue_lines writes it (same fields and tags)."""
    fen = {names.GROSS_FEN: net_fen + 500, names.GRID_PART_FEN: net_fen // 2,
           names.SUBSIDY_PART_FEN: net_fen - net_fen // 2 + 500, names.DEDUCTIONS_FEN: 500,
           names.NET_FEN: net_fen}
    fields: dict[str, int | float] = dict(fen)
    fields.update({names.yuan(k): v / 100 for k, v in fen.items()})
    fields[names.ENERGY_KWH] = net_fen / 75
    tags = {names.PLANT: plant, names.VILLAGE: village, names.PERIOD: period}
    return line(names.REVENUE, tags, fields, int(at.timestamp()) * 10**9)


def write_revenue(influxdb: InfluxServer, database: str) -> None:
    lines = [revenue_line("p1", "v1", "2020-06", MONTH_START, 3_200_000),
             revenue_line("p2", "v2", "2020-06", MONTH_START, 2_900_000)]
    with influxdb.client(database) as client:
        client.write_lines(lines, precision="ns")
