"""`pvrelief scan --dlt645` against simulated meters: the wildcard, known addresses and the
search by abbreviated addresses; and the command itself, against `pvrelief simulate`."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from collector.sources.dlt645.scan import scan_gateway
from localsite.servers import free_port
from simulator.dlt645_gateway import SimDlt645Gateway
from simulator.fleet import Fleet
from tests.simulator.dlt645_rig import START, dlt645_config
from tests.waiting import wait_until_sync
from timebase.clock import Clock

A, B, C = "000012345678", "000087651278", "000000000001"  # A and B share their lowest byte


def meter(mid: str, address: str, **kw: Any) -> dict[str, Any]:
    return {"id": mid, "address": address, "export_is": "reverse", **kw}


@asynccontextmanager
async def bus(*meters: dict[str, Any], baud: int = 19200) -> AsyncIterator[SimDlt645Gateway]:
    cfg = dlt645_config(list(meters), gateway={"baud": baud},
                        modbus=[{"id": "inv", "profile": "sunspec-inverter"}])
    fleet = Fleet(cfg, Clock.starting(cfg.simulator.start, 1.0))
    fleet.step(fleet.clock.sim_start_ns)
    gw = fleet.dlt645.gateways[0]
    gw.turnaround_s = 0.005  # a quick meter: the search's silent patterns cost less
    await fleet.dlt645.start()
    try:
        yield gw
    finally:
        await fleet.dlt645.stop()


async def test_a_lone_meter_answers_the_wildcard_and_describes_itself() -> None:
    async with bus(meter("gk", A, ct_ratio=80, pt_ratio=1), baud=9600) as gw:
        found = await scan_gateway(gw.host, gw.port, [], False, 9600, 11, 0.3)
        (m,) = found.meters
        assert (m.address, m.found_by) == (A, "read address (wildcard)")
        truth = gw.meters[0]
        assert m.reverse_kwh == pytest.approx(truth.e_export_wh / 1e3 / 80, abs=0.01)
        assert (m.ct_ratio, m.pt_ratio) == (80.0, 1.0)
        assert m.clock == datetime.fromisoformat(START).replace(tzinfo=None)
        assert found.notes == [] and found.probes == 1
        assert set(truth.controls) <= {0x11, 0x13}, "a scan must never write"


async def test_colliding_meters_are_found_by_their_addresses() -> None:
    async with bus(meter("a", A), meter("b", B), baud=9600) as gw:
        found = await scan_gateway(gw.host, gw.port, [A, B, C], False, 9600, 11, 0.3)
        assert [(m.address, m.found_by) for m in found.meters] == [
            (A, "known address"), (B, "known address")]
        assert found.notes[0].startswith("several meters answered the wildcard")
        assert found.notes[1] == f"{C}: no answer to its address"
        assert gw.collisions == 2  # a garbled answer is asked for once more


async def test_the_search_descends_where_meters_collide() -> None:
    async with bus(meter("a", A), meter("b", B), meter("c", C)) as gw:
        found = await scan_gateway(gw.host, gw.port, [], True, 19200, 11, 0.05)
        assert [m.address for m in found.meters] == [C, A, B]
        by = {m.address: m.found_by for m in found.meters}
        assert by[C] == "search (AAAAAAAAAA01)"
        assert by[A] == "search (AAAAAAAA5678)" and by[B] == "search (AAAAAAAA1278)"
        # the wildcard, 100 lowest bytes, and 100 second bytes under the shared 78
        assert found.probes == 1 + 100 + 100


def test_the_scan_command_against_a_simulate_process(tmp_path: Path) -> None:
    port = free_port()
    cfg = {"simulator": {"start": START, "speed": 1},
           "counties": [{"id": "c", "plants": [{
               "id": "p1", "capacity_kwp_dc": 60, "capacity_kw_ac": 50, "latitude": 36.27,
               "longitude": 100.62,
               "dlt645_gateways": [{"id": "rs485", "port": port, "baud": 9600,
                                    "meters": [meter("gk", A, ct_ratio=40)]}]}]}]}
    path = tmp_path / "site.yaml"
    path.write_text(yaml.safe_dump(cfg))
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    log = tmp_path / "simulate.log"
    with log.open("wb") as out:
        sim = subprocess.Popen([sys.executable, "-m", "pvrelief", "simulate", "-c", str(path)],
                               env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        def listening() -> bool:
            import socket
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    return True
            except OSError:
                return False

        wait_until_sync(listening, 60, "the simulated gateway")
        done = subprocess.run(
            [sys.executable, "-m", "pvrelief", "scan", f"127.0.0.1:{port}", "--dlt645",
             "--baud", "9600", "--timeout", "0.5", "-a", C],
            capture_output=True, text=True, env={**env, "COLUMNS": "200"}, timeout=60)
        assert done.returncode == 0, done.stderr
        assert A in done.stdout and "read address (wildcard)" in done.stdout
        assert "40" in done.stdout  # its CT ratio, for the config
        assert f"{C}: no answer to its address" in done.stderr
        bad = subprocess.run([sys.executable, "-m", "pvrelief", "scan", f"127.0.0.1:{port}",
                              "--dlt645", "-a", "12345"], capture_output=True, text=True,
                             env=env, timeout=60)
        assert bad.returncode == 2 and "12 digits" in bad.stderr
    finally:
        sim.send_signal(signal.SIGTERM)
        try:
            sim.wait(30)
        finally:
            if sim.poll() is None:
                sim.kill()
                sim.wait(10)
