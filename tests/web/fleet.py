"""The demo site's three plants, simulated and collected into a real InfluxDB, for the page.

Plant and meter ids are those of config/examples/allocation-gonghe.yaml, so the page (and
``pvrelief allocate``) can allocate 2020-06-21 from the meters the collector wrote. Two
inverters per plant, polled every 30 simulated minutes, from noon the day before to noon the
day after at 7200x speed: about 25 s of real time. The twelve hours before the day are margin:
a slow start-up on a loaded machine still finds every meter read before the day begins. One
Huawei inverter reports alarm 2064 (device fault) from the simulated morning of the 22nd.
"""

from __future__ import annotations

import asyncio
import threading
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from collector.runner import Collector
from collector.sinks.influx import InfluxSink
from config.loader import load_config
from localsite.servers import free_port
from simulator.fleet import Fleet
from tests.waiting import wait_until
from timebase.clock import Clock

ROOT = Path(__file__).resolve().parents[2]
ALLOCATION = ROOT / "config" / "examples" / "allocation-gonghe.yaml"
START = datetime.fromisoformat("2020-06-20T12:00:00+08:00")  # margin: a slow start-up
END = datetime.fromisoformat("2020-06-22T12:30:00+08:00")
NOW = datetime.fromisoformat("2020-06-22T12:00:00+08:00")  # the page's (frozen) clock
DAY = "2020-06-21"  # the period allocated: a daily preview, as the demo makes
SPEED = 7200
POLL_S = 1800
FAULTY = "va-inv-02"


def _plant(pid: str, name: str, kind: str, kwp: float, kw_ac: float, inverter: str,
           meter: str, prefix: str) -> dict[str, Any]:
    port = free_port()
    return {"id": pid, "name": name, "kind": kind, "capacity_kwp_dc": kwp,
            "capacity_kw_ac": kw_ac, "latitude": 36.27, "longitude": 100.62,
            "altitude_m": 2800, "tilt_deg": 36, "devices": [
                {"id": f"{prefix}-inv", "profile": inverter, "port": port, "unit_id": 1,
                 "repeat": 2, "poll_interval_s": POLL_S},
                {"id": f"{prefix}-meter", "profile": meter, "port": port, "unit_id": 10,
                 "poll_interval_s": POLL_S}]}


def site_config(tmp: Path, influx_url: str, database: str, web_port: int) -> Path:
    cfg = {
        "site": {"id": "hainan", "name": "海南藏族自治州"},
        "influxdb": {"url": influx_url, "database": database, "linger_s": 0.2,
                     "spool_dir": str(tmp / "spool")},
        "collector": {"timeout_s": 1.0},
        "simulator": {"start": START.isoformat(), "speed": SPEED, "seed": 7, "tick_s": 60,
                      "faults": [{"device": FAULTY, "kind": "fault_code", "code": 2064,
                                  "from": int((NOW - START).total_seconds()) - 4 * 3600}]},
        "web": {"port": web_port, "allocation": str(ALLOCATION),
                "revenue_dir": str(tmp / "revenue")},
        "counties": [{"id": "gonghe", "name": "共和县", "plants": [
            _plant("gonghe-central", "共和县集中式光伏扶贫电站", "centralised", 20000, 17500,
                   "sunspec-inverter", "sunspec-meter", "gc")],
            "townships": [{"id": "qiabuqia", "villages": [
                {"id": "village-a", "name": "甲村", "plants": [
                    _plant("village-a", "甲村村级光伏扶贫电站", "village", 300, 250,
                           "huawei-sun2000", "sunspec-meter", "va")]},
                {"id": "village-b", "name": "乙村", "plants": [
                    _plant("village-b", "乙村村级光伏扶贫电站", "village", 300, 250,
                           "sungrow-sg", "chint-dtsu666", "vb")]},
            ]}]}],
    }
    path = tmp / "site.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False, allow_unicode=True))
    return path


async def _fill(config_path: Path) -> None:
    cfg = load_config(config_path)
    clock = Clock.starting(START, SPEED)
    collector = Collector(cfg, [InfluxSink(cfg.influxdb)], clock)
    end_ns = int(END.timestamp()) * 10**9
    async with Fleet(cfg, clock):
        await collector.start()
        try:
            await wait_until(lambda: clock.now_ns() >= end_ns, 120, "the simulated day passed",
                             every_s=0.2)
        finally:
            await collector.stop()


def fill(config_path: Path) -> None:
    """Run the simulator and the collector over the simulated span (blocking).

    In a thread of its own: Playwright's sync API keeps an event loop in the test's thread.
    """
    failed: list[BaseException] = []

    def target() -> None:
        try:
            asyncio.run(_fill(config_path))
        except BaseException as e:  # handed to the test's thread below
            failed.append(e)

    worker = threading.Thread(target=target, name="fleet-fill")
    worker.start()
    worker.join()
    if failed:
        raise failed[0]


def frozen_clock(path: Path) -> Path:
    """A clock file that stays at NOW, for ``pvrelief web --sim-clock``."""
    Clock.starting(NOW, 0.0).save(path)
    return path
