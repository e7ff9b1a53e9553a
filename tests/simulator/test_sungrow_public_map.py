"""The simulated Sungrow SG answers every read a widely used public Sungrow collector makes.

No Sungrow client on PyPI reads SG string inverters the way plants do, so this test reads the
simulator as SunGather (bohdan-s/SunGather) does and decodes with a table written by hand from
its public map, SunGather/registers-sungrow.yaml: the same ranges (its `scan:` section, wire
addresses: input 4949x50, 5000x100 then 5039x61, 5100x100; holding 4999, 5009, 5034 x10), its
register addresses (the document's 1-based numbers: wire = address - 1), types and accuracies,
and its word order (32-bit values low word first). It shares nothing with the collector.
"""

from __future__ import annotations

import struct

import pytest
from pymodbus.client import AsyncModbusTcpClient

from tests.simulator.gateway_fleet import gateway_config, inverters, served_fleet

# wire 4999 (the device type code) first, once, as SunGather does before its scan
INPUT_READS = [(4999, 1), (4949, 50), (5000, 100), (5039, 61), (5100, 100)]
HOLDING_READS = [(4999, 10), (5009, 10), (5034, 10)]

# registers-sungrow.yaml: name -> (document address, type, accuracy)
INPUT_TABLE = {
    "device_type_code": (5000, "U16", 1), "nominal_active_power": (5001, "U16", 0.1),
    "daily_power_yields": (5003, "U16", 0.1), "total_power_yields": (5004, "U32", 1),
    "total_running_time": (5006, "U32", 1), "internal_temperature": (5008, "S16", 0.1),
    "total_apparent_power": (5009, "U32", 1), "total_dc_power": (5017, "U32", 1),
    "phase_a_voltage": (5019, "U16", 0.1), "phase_a_current": (5022, "S16", 0.1),
    "total_active_power": (5031, "U32", 1), "total_reactive_power": (5033, "S32", 1),
    "power_factor": (5035, "S16", 0.001), "grid_frequency": (5036, "U16", 0.1),
    "work_state_1": (5038, "U16", 1), "alarm_code_1": (5045, "U16", 1),
    "array_insulation_resistance": (5071, "U16", 1), "work_state_2": (5081, "U32", 1),
    "daily_running_time": (5113, "U16", 1), "monthly_power_yields": (5128, "U32", 0.1),
    "total_power_yields_01": (5144, "U32", 0.1), "bus_voltage": (5147, "U16", 0.1),
    "grid_frequency_001": (5148, "U16", 0.01),
    **{f"mppt_{n}_voltage": (a, "U16", 0.1) for n, a in
       [(1, 5011), (2, 5013), (3, 5015), (4, 5115), (5, 5117), (6, 5119), (7, 5121),
        (8, 5123), (9, 5130), (10, 5132), (11, 5134), (12, 5136)]},
    **{f"mppt_{n}_current": (a, "U16", 0.1) for n, a in
       [(1, 5012), (2, 5014), (3, 5016), (4, 5116), (5, 5118), (6, 5120), (7, 5122),
        (8, 5124), (9, 5131), (10, 5133), (11, 5135), (12, 5137)]},
}
HOLDING_TABLE = {"year": (5000, "U16", 1), "month": (5001, "U16", 1), "day": (5002, "U16", 1),
                 "hour": (5003, "U16", 1), "minute": (5004, "U16", 1),
                 "second": (5005, "U16", 1), "start_stop": (5006, "U16", 1),
                 "power_limitation_setting": (5008, "U16", 0.1)}
FORMATS = {"U16": ">H", "S16": ">h", "U32": ">I", "S32": ">i"}


def decode(words: dict[int, int], table: dict[str, tuple[int, str, float]]) -> dict[str, float]:
    out = {}
    for name, (doc, type_, accuracy) in table.items():
        wire = doc - 1
        ws = [words[wire]] if type_.endswith("16") else [words[wire + 1], words[wire]]
        raw = struct.unpack(FORMATS[type_], b"".join(w.to_bytes(2, "big") for w in ws))[0]
        out[name] = raw if accuracy == 1 else raw * accuracy
    return out


async def read_all(port: int, unit: int) -> tuple[dict[int, int], dict[int, int]]:
    client = AsyncModbusTcpClient("127.0.0.1", port=port, timeout=5)
    await client.connect()
    try:
        tables = []
        for reads, fn in ((INPUT_READS, client.read_input_registers),
                          (HOLDING_READS, client.read_holding_registers)):
            words: dict[int, int] = {}
            for address, count in reads:
                rr = await fn(address, count=count, device_id=unit)
                assert not rr.isError(), f"{fn.__name__} {address}x{count}: {rr}"
                words.update(zip(range(address, address + count), rr.registers, strict=True))
            tables.append(words)
        return tables[0], tables[1]
    finally:
        client.close()


async def test_sungather_reads_every_range_and_gets_a_running_sg110cx() -> None:
    cfg = gateway_config(inverters(1, profile="sungrow-sg"), capacity_kw_ac=110.0)
    port = cfg.devices()[0][1].port
    async with served_fleet(cfg) as fleet:
        inv = fleet.devices["inv-01"]
        inputs, holding = await read_all(port, 1)
    got = decode(inputs, INPUT_TABLE)
    clock = decode(holding, HOLDING_TABLE)
    truth = inv.published
    assert got["device_type_code"] == 0x2C06 and got["nominal_active_power"] == 110.0
    assert got["work_state_1"] == 0 and got["work_state_2"] == 0  # Run, in both registers
    assert got["alarm_code_1"] == 0
    p = truth["p_ac_w"]
    assert 30_000 < got["total_active_power"] == pytest.approx(p, abs=1)
    assert got["total_reactive_power"] == pytest.approx(0.1 * p, rel=0.02)  # PF 0.995
    assert got["total_apparent_power"] == pytest.approx((p**2 + (0.1 * p) ** 2) ** 0.5, rel=0.01)
    assert got["power_factor"] == pytest.approx(0.995, abs=0.001)
    assert got["grid_frequency"] == pytest.approx(50.0, abs=0.1)
    assert got["grid_frequency_001"] == pytest.approx(50.0, abs=0.02)
    assert got["total_dc_power"] > got["total_active_power"]
    # the morning's yield, in whole kWh and in 0.1 kWh; running hours of a unit in service
    assert 40 < got["daily_power_yields"] == pytest.approx(truth["e_day_kwh"], abs=0.1)
    assert got["total_power_yields"] == pytest.approx(truth["e_total_kwh"], abs=1)
    assert got["total_power_yields_01"] == pytest.approx(truth["e_total_kwh"], abs=0.1)
    assert got["monthly_power_yields"] >= got["daily_power_yields"]
    assert got["total_running_time"] > 1000 and 180 < got["daily_running_time"] < 360
    assert got["array_insulation_resistance"] == 3000  # kOhm
    # an SG110CX has 9 MPPTs carrying about 12 kW each; 10-12 answer the "no input" word
    for n in range(1, 10):
        assert 500 < got[f"mppt_{n}_voltage"] < 700
        assert 5 < got[f"mppt_{n}_current"] < 26
    for n in range(10, 13):
        assert inputs[INPUT_TABLE[f"mppt_{n}_voltage"][0] - 1] == 0xFFFF
        assert inputs[INPUT_TABLE[f"mppt_{n}_current"][0] - 1] == 0xFFFF
    # holding: the unit's clock, in the plant's local time, and its settings
    assert [clock[k] for k in ("year", "month", "day", "hour", "minute", "second")] == \
        [2020, 6, 21, 11, 0, 0]
    assert clock["start_stop"] == 0xCF and clock["power_limitation_setting"] == 100.0
