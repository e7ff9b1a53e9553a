"""A simulated plant polled by the real collector (alarm stage included) into a real InfluxDB.

Each device has a port of its own: a silent unit behind a shared endpoint would hold up its
neighbours for a whole timeout, which at 120x is a quarter of a poll interval.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import yaml

from collector.runner import Collector
from collector.sinks.base import Sink
from collector.sinks.influx import InfluxSink
from config.loader import load_config
from config.schema import Config
from localsite.servers import InfluxServer, free_port
from simulator.fleet import Fleet
from timebase.clock import Clock

START = "2020-06-21T11:00:00+08:00"


def plant_config(tmp_path: Path, influx: InfluxServer | None, db: str, *,
                 faults: list[dict[str, Any]] = (), alarms: dict[str, Any] | None = None,
                 inverters: int = 3, interval_s: float = 60, speed: float = 120,
                 start: str = START, timeout_s: float = 0.2, sleep: bool = False,
                 collector: dict[str, Any] | None = None,
                 state_dir: Path | None = None) -> Config:
    devices: list[dict[str, Any]] = [
        {"id": f"inv-{i:02d}", "profile": "huawei-sun2000", "port": free_port(), "unit_id": 1,
         "poll_interval_s": interval_s} for i in range(1, inverters + 1)]
    devices.append({"id": "meter", "profile": "sunspec-meter", "port": free_port(),
                    "unit_id": 1, "poll_interval_s": interval_s})
    cfg = {
        "site": {"id": "test"},
        "influxdb": {"url": influx.url if influx else "http://127.0.0.1:9", "database": db,
                     "linger_s": 0.1, "spool_dir": str(tmp_path / "spool")},
        "state_dir": str(state_dir or tmp_path / "state"),
        "collector": {"timeout_s": timeout_s, "max_backoff_s": interval_s,
                      **(collector or {})},
        "simulator": {"start": start, "speed": speed, "seed": 5, "tick_s": 5,
                      "inverters_sleep_at_night": sleep, "faults": list(faults)},
        "alarms": alarms or {},
        "counties": [{"id": "gonghe", "townships": [{"id": "t1", "villages": [{
            "id": "v1", "name": "甲村", "plants": [{
                # a SUN2000's profile rates it 100 kW: the plant is what its inverters make
                "id": "p1", "name": "甲村电站", "capacity_kwp_dc": 120 * inverters,
                "capacity_kw_ac": 100 * inverters, "latitude": 36.27, "longitude": 100.62,
                "altitude_m": 2800, "devices": devices}]}]}]}],
    }
    path = tmp_path / "plant.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False, allow_unicode=True))
    return load_config(path)


async def run(cfg: Config, until: Callable[[Collector, int], bool | Awaitable[bool]], *,
              sinks: list[Sink] | None = None, timeout_s: float = 120,
              clock: Clock | None = None) -> Collector:
    """Simulate and collect until ``until(collector, sim_seconds)`` (a function or a coroutine
    function, called every 50 ms real); return the stopped collector.

    The simulated clock runs from ``simulator.start`` while the fleet and the collector are
    built and started (a second or two, real): put faults well after the start.
    """
    clock = clock or Clock.starting(cfg.simulator.start, cfg.simulator.speed)
    fleet = Fleet(cfg, clock)
    collector = Collector(cfg, sinks if sinks is not None else [InfluxSink(cfg.influxdb)],
                          clock)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    async with fleet:
        await collector.start()
        try:
            while True:
                done = until(collector, (clock.now_ns() - clock.sim_start_ns) // 10**9)
                if inspect.isawaitable(done):
                    done = await done
                if done:
                    break
                if loop.time() > deadline:
                    raise AssertionError(f"not done within {timeout_s:g} s real")
                await asyncio.sleep(0.05)
        finally:
            await collector.stop()
    return collector


def transitions(influx: InfluxServer, db: str) -> list[tuple[str, str, str, int]]:
    """(device, alarm, state, time ns) of every stored ``alarm`` point, in time order."""
    series = influx.query('SELECT "state" FROM "alarm" GROUP BY "device", "alarm"', db)
    out = [(s["tags"]["device"], s["tags"]["alarm"], v[1], v[0])
           for s in series for v in s["values"]]
    return sorted(out, key=lambda x: x[3])
