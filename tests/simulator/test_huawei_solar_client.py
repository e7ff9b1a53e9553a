"""Home Assistant's Huawei library (huawei-solar, PyPI) sets up and updates against the simulator.

huawei-solar is public client code no one here wrote. Its bridge set-up reads the model name,
serial, versions, the PV string count, probes for optimizers, batteries and a power meter
(exception 2 is its "not there"), and reads the daylight-saving (42900) and time-zone (43006)
settings; then Home Assistant's Huawei Solar integration (wlcrs/huawei_solar, sensor.py)
batch-updates the inverter registers below plus every PV string. Any exception 2 in a batch, or a
value outside the library's own tables (an unknown device status), fails the update.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from huawei_solar import create_tcp_bridge
from huawei_solar import register_names as rn
from huawei_solar.bridge import HuaweiSUN2000Bridge

from tests.simulator.gateway_fleet import gateway_config, inverters, served_fleet

# Home Assistant's inverter sensors (wlcrs/huawei_solar sensor.py, INVERTER_SENSOR_DESCRIPTIONS)
# plus the alarm, insulation, frequency and fault registers its later versions add
HA_INVERTER_REGISTERS = [
    rn.INPUT_POWER, rn.LINE_VOLTAGE_A_B, rn.LINE_VOLTAGE_B_C, rn.LINE_VOLTAGE_C_A,
    rn.PHASE_A_VOLTAGE, rn.PHASE_B_VOLTAGE, rn.PHASE_C_VOLTAGE, rn.PHASE_A_CURRENT,
    rn.PHASE_B_CURRENT, rn.PHASE_C_CURRENT, rn.DAY_ACTIVE_POWER_PEAK, rn.ACTIVE_POWER,
    rn.REACTIVE_POWER, rn.POWER_FACTOR, rn.EFFICIENCY, rn.INTERNAL_TEMPERATURE,
    rn.DEVICE_STATUS, rn.STARTUP_TIME, rn.SHUTDOWN_TIME, rn.ACCUMULATED_YIELD_ENERGY,
    rn.DAILY_YIELD_ENERGY, rn.STATE_1, rn.STATE_2, rn.STATE_3, rn.ALARM_1, rn.ALARM_2,
    rn.ALARM_3, rn.INSULATION_RESISTANCE, rn.GRID_FREQUENCY, rn.FAULT_CODE, rn.P_MAX,
    rn.RATED_POWER,
]


async def test_bridge_set_up_and_batch_update() -> None:
    cfg = gateway_config(inverters(1, profile="huawei-sun2000"), capacity_kw_ac=100.0)
    port = cfg.devices()[0][1].port
    async with served_fleet(cfg) as fleet:
        inv = fleet.devices["inv-01"]
        bridge = await create_tcp_bridge("127.0.0.1", port, 1)
        try:
            assert isinstance(bridge, HuaweiSUN2000Bridge)  # chosen by the model name
            assert bridge.model_name == "SUN2000-100KTL-M1"
            assert bridge.serial_number == "INV-01"
            assert bridge.pv_string_count == 20
            names = HA_INVERTER_REGISTERS + bridge._pv_registers  # as HA does: every string
            got = {k: r.value for k, r in (await bridge.batch_update(names)).items()}
        finally:
            await bridge.stop()
    truth = inv.published
    # 11:00 on the solstice in Gonghe: on grid, producing
    assert got[rn.DEVICE_STATUS] == "On-grid"
    assert got[rn.STATE_1] == ["Grid-Connected", "Grid-Connected normally"]
    assert got[rn.ALARM_1] == [] and got[rn.ALARM_2] == [] and got[rn.ALARM_3] == []
    assert got[rn.FAULT_CODE] == 0
    assert got[rn.ACTIVE_POWER] == pytest.approx(truth["p_ac_w"], abs=1)
    assert 30_000 < got[rn.ACTIVE_POWER] <= 100_000
    assert got[rn.P_MAX] == 110_000 and got[rn.RATED_POWER] == 100_000
    assert got[rn.INPUT_POWER] > got[rn.ACTIVE_POWER]
    assert 95 < got[rn.EFFICIENCY] < 100
    assert 0.99 < got[rn.POWER_FACTOR] <= 1.0
    assert 0 < got[rn.REACTIVE_POWER] < 0.15 * got[rn.ACTIVE_POWER]
    assert got[rn.DAY_ACTIVE_POWER_PEAK] >= got[rn.ACTIVE_POWER]
    for line in (rn.LINE_VOLTAGE_A_B, rn.LINE_VOLTAGE_B_C, rn.LINE_VOLTAGE_C_A):
        assert got[line] == pytest.approx(398.4, abs=0.5)  # 230 V phases, 400 V lines
    assert got[rn.GRID_FREQUENCY] == pytest.approx(50.0, abs=0.05)
    # the morning's yield is there at the start: about 3 hours of a rising sun
    assert 40 < got[rn.DAILY_YIELD_ENERGY] < 400
    assert got[rn.ACCUMULATED_YIELD_ENERGY] > got[rn.DAILY_YIELD_ENERGY]
    assert isinstance(got[rn.STARTUP_TIME], datetime)
    # the bridge turns the unit's local clock into UTC with the time zone it read at 43006
    start = got[rn.STARTUP_TIME].astimezone(ZoneInfo("Asia/Shanghai"))
    assert (start.date().isoformat(), 5 <= start.hour <= 7) == ("2020-06-21", True)
    assert got[rn.SHUTDOWN_TIME] is None  # not shut down since the run started
    # 20 strings share the DC power at a string's voltage, each a few amperes
    volts = [got[f"pv_{n:02}_voltage"] for n in range(1, 21)]
    amps = [got[f"pv_{n:02}_current"] for n in range(1, 21)]
    assert all(500 < v < 700 for v in volts)
    assert all(2 < a < 15 for a in amps)
    assert sum(v * a for v, a in zip(volts, amps, strict=True)) == \
        pytest.approx(got[rn.INPUT_POWER], rel=0.02)
