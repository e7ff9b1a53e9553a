"""`pvrelief simulate` and `pvrelief collect` as separate processes, stopped by SIGTERM; the
demo's fleet and collector on free ports, stopped even when the run is cut short."""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
from rich.console import Console

from collector.runner import Collector
from collector.sinks.base import CallbackSink
from collector.sources.dlt645.source import Dlt645Source
from collector.sources.modbus.source import modbus_source
from config.loader import load_config
from localsite.demo import simulate_day, use_free_ports
from localsite.servers import InfluxServer, free_port
from simulator.fleet import Fleet
from tests.e2e_helpers import small_fleet_config
from tests.waiting import wait_until, wait_until_sync
from timebase.clock import Clock

PVRELIEF = [sys.executable, "-m", "pvrelief"]
EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "examples" / "gonghe.yaml"


def _metrics(port: int) -> str:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=1).text
    except httpx.HTTPError:
        return ""


def _spawn(args: list[str], log: Path) -> subprocess.Popen[bytes]:
    """Start a child whose output goes to a file: a pipe nobody reads blocks it at ~64 KB."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with log.open("wb") as out:  # the child holds its own copy of the descriptor
        return subprocess.Popen([*PVRELIEF, *args], env=env, stdout=out,
                                stderr=subprocess.STDOUT)


def _show(*logs: Path) -> None:
    """Print the children's output; pytest shows it with the failure."""
    for log in logs:
        text = log.read_text(errors="replace") if log.exists() else "(no output file)"
        print(f"----- {log.name} ({len(text)} chars, last 20 000) -----\n{text[-20_000:]}")


def test_simulate_and_collect_processes_share_the_clock_and_stop_cleanly(
    tmp_path: Path, influxdb: InfluxServer, influx_db: str
) -> None:
    config = small_fleet_config(tmp_path, influxdb.url, influx_db, inverters=2)
    clock = tmp_path / "clock.json"
    truth = tmp_path / "truth.json"
    sim_log, col_log = tmp_path / "simulate.log", tmp_path / "collect.log"
    sim = _spawn(["simulate", "-c", str(config), "--clock-file", str(clock),
                  "--truth", str(truth)], sim_log)
    col = None
    try:
        try:
            wait_until_sync(clock.exists, 30, "the simulator's clock file")
            port = free_port()
            col = _spawn(["collect", "-c", str(config), "--sim-clock", str(clock),
                          "--metrics-port", str(port)], col_log)
            wait_until_sync(lambda: _polls_ok(_metrics(port), "p1-meter") >= 3, 60,
                  "three good polls of the meter, seen on /metrics")
            col.send_signal(signal.SIGTERM)
            assert col.wait(30) == 0
        finally:
            if col is not None and col.poll() is None:
                col.kill()
                col.wait(10)
            sim.send_signal(signal.SIGTERM)
            try:
                sim.wait(30)
            finally:
                if sim.poll() is None:
                    sim.kill()
                    sim.wait(10)
        assert sim.returncode == 0
        series = influxdb.query("SELECT count(e_export_kwh) FROM meter", influx_db)
        assert series and series[0]["values"][0][1] >= 3
        # readings are stamped with the simulated clock: 2020, not today
        [[ts, _]] = influxdb.query("SELECT last(e_export_kwh) FROM meter",
                                   influx_db)[0]["values"]
        assert 1_592_000_000 < ts / 1e9 < 1_593_000_000
        assert truth.exists() and "p1-meter" in truth.read_text()
    except BaseException:
        _show(sim_log, col_log)
        raise


def _polls_ok(text: str, device: str) -> float:
    for line in text.splitlines():
        if line.startswith("pvrelief_device_polls_total") and f'device="{device}"' in line \
                and 'result="ok"' in line:
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def _listening(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


async def test_demo_moves_every_endpoint_to_a_free_port_for_fleet_and_collector() -> None:
    cfg = load_config(EXAMPLE)
    configured = set(cfg.endpoints())
    assert ("127.0.0.1", 15020) in configured
    with socket.socket() as squatter:  # someone else already has the example's port
        squatter.bind(("127.0.0.1", 15020))
        squatter.listen()
        moved = use_free_ports(cfg)
        assert set(moved) == configured and not set(cfg.endpoints()) & configured
        fleet = Fleet(cfg, Clock.starting(cfg.simulator.start, 1.0))
        collector = Collector(cfg, [CallbackSink(_discard)])
        served = {(s.host, s.port) for s in fleet.servers} | {
            (g.host, g.port) for g in fleet.dlt645.gateways}
        polled = set(modbus_source(collector).endpoints) | {
            (link.host, link.port) for s in collector.sources if isinstance(s, Dlt645Source)
            for link in s.links.values()}
        assert served == polled == set(moved.values())
        # a gateway moves with its devices: the 40 central inverters still share its endpoint
        (_, logger), = cfg.gateways()
        assert (logger.host, logger.port) == moved[("127.0.0.1", 15020)]
        central = [d for d in cfg.plants()[0].all_devices() if d.id.startswith("gc-inv")]
        assert len(central) == 40
        assert {(d.host, d.port, d.gateway) for d in central} == {(*moved[("127.0.0.1", 15020)],
                                                                    "gc-logger")}
        async with fleet:
            assert all(_listening(h, p) for h, p in served)
        await collector.stop()


async def test_demo_stops_fleet_and_collector_when_cut_short(
    tmp_path: Path, influxdb: InfluxServer, influx_db: str
) -> None:
    cfg = load_config(small_fleet_config(tmp_path, influxdb.url, influx_db, speed=60))
    use_free_ports(cfg)
    endpoints = cfg.endpoints()
    run = asyncio.create_task(simulate_day(cfg, influxdb, Console(file=io.StringIO()), False))
    await wait_until(lambda: all(_listening(h, p) for h, p in endpoints), 30, "fleet serving")
    await wait_until(lambda: any(t.get_name().startswith("poll-") for t in asyncio.all_tasks()),
                     30, "collector polling")
    run.cancel()  # what Ctrl-C does to asyncio.run's main task
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.wait_for(run, 30)
    assert run.cancelled()
    left = [t.get_name() for t in asyncio.all_tasks()
            if t.get_name().startswith(("poll-", "fleet-")) and not t.done()]
    assert left == []
    await wait_until(lambda: not any(_listening(h, p) for h, p in endpoints), 10,
                     "the fleet's Modbus servers closed")


async def _discard(readings: object) -> None:
    return None
