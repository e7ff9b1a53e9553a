"""The SunSpec Alliance's own client (pysunspec2) discovers and decodes the simulator.

Issue 3 asks that any standard SunSpec client can read our simulated devices; pysunspec2 is the
reference implementation, so it reads them here over real Modbus TCP, and its scaled values
must equal what the simulator published.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import sunspec2.modbus.client as sunspec_client

from config.loader import load_config
from simulator.fleet import Fleet
from tests.e2e_helpers import small_fleet_config
from timebase.clock import Clock


def _scan(port: int, unit: int) -> dict[int, object]:
    device = sunspec_client.SunSpecModbusClientDeviceTCP(
        slave_id=unit, ipaddr="127.0.0.1", ipport=port, timeout=5)
    try:
        device.scan()  # "SunS" marker, then the model id/length chain to 0xFFFF
        return {mid: models[0] for mid, models in device.models.items() if isinstance(mid, int)}
    finally:
        device.close()


async def _scan_running_fleet(tmp_path: Path, unit: int, device: str
                              ) -> tuple[dict[int, object], dict[str, float]]:
    """Serve a small fleet in real time (registers change at most once, a 10 s tick, while
    pysunspec2 reads them); scan ``unit`` with pysunspec2; return its models and the truth."""
    cfg = load_config(small_fleet_config(tmp_path, "http://127.0.0.1:9", "unused", speed=1,
                                         inverters=1))
    port = cfg.devices()[0][1].port
    async with Fleet(cfg, Clock.starting(cfg.simulator.start, cfg.simulator.speed)) as fleet:
        models = await asyncio.to_thread(_scan, port, unit)
        return models, dict(fleet.devices[device].published)


async def test_pysunspec2_discovers_and_decodes_the_inverter(tmp_path: Path) -> None:
    models, truth = await _scan_running_fleet(tmp_path, 1, "p1-inv")
    assert sorted(models) == [1, 103, 160]
    assert models[1].SN.value == "P1-INV"
    inverter = models[103]
    assert inverter.St.value == 4  # MPPT: running, at 11:00 on the solstice
    assert inverter.W.cvalue == pytest.approx(truth["p_ac_w"], rel=0.01)
    assert inverter.WH.cvalue / 1000 == pytest.approx(truth["e_total_kwh"], rel=1e-4)
    assert inverter.Hz.cvalue == pytest.approx(truth["f_ac_hz"], abs=0.02)
    mppt = models[160]
    assert int(mppt.N.value) == 2 and len(mppt.module) == 2
    assert mppt.module[0].DCV.cvalue == pytest.approx(truth["pv1_v_v"], rel=0.01)


async def test_pysunspec2_discovers_and_decodes_the_meter(tmp_path: Path) -> None:
    models, truth = await _scan_running_fleet(tmp_path, 100, "p1-meter")
    assert sorted(models) == [1, 203]
    meter = models[203]
    assert meter.TotWhExp.cvalue / 1000 == pytest.approx(truth["e_export_kwh"], rel=1e-4)
    assert meter.W.cvalue == pytest.approx(truth["p_w"], rel=0.01)
