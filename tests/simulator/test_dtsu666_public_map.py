"""A CHINT DTSU666 behind current transformers, read as its manual says and by the collector.

No DTSU666 client is on PyPI, so the first test reads the simulator with a table written by hand
from the manual's Modbus table (CHINT DTSU666/DSSU666 user manual ZTY0.464.1448, table 11, as
published on easymanua.ls and transcribed by star.ke.st): IrAt 0006H, UrAt 0007H (in 0.1),
Ua..Uc 2006H.. (0.1 V), Ia..Ic 200CH.. (0.001 A), Pt 2012H (0.1 W), Freq 2044H (0.01 Hz),
ImpEp 101EH and ExpEp 1028H (kWh), every value float32 high word first and on the secondary
side: primary = value x UrAt (voltage), x IrAt (current), x IrAt x UrAt (power, energy).
It reads over function 03 and function 04, which the meter answers alike.

The second test is the collector itself: a plant's meter behind 400/5 A CTs (IrAt 80) must be
stored with primary-side power and energy, 80 times what the registers hold.
"""

from __future__ import annotations

import struct
from typing import Any

import pytest
from pymodbus.client import AsyncModbusTcpClient

from simulator.devices import SimMeter
from simulator.fleet import Fleet
from tests.simulator.gateway_fleet import gateway_config, inverters, served_fleet
from tests.simulator.rig import rig
from timebase.clock import Clock

FLOATS = {"ua": (0x2006, 0.1), "ia": (0x200C, 0.001), "pt": (0x2012, 0.1),
          "freq": (0x2044, 0.01), "imp_ep": (0x101E, 1.0), "exp_ep": (0x1028, 1.0)}


def plant(ct: str | None) -> Any:
    meter = {"id": "meter", "unit_id": 9, "profile": "chint-dtsu666", "poll_interval_s": 60}
    sim = {"meter_transformers": {"meter": {"ct": ct}}} if ct else {}
    return gateway_config([*inverters(2), meter], simulator=sim, capacity_kw_ac=250.0)


async def read_manual_table(port: int, function: int) -> dict[str, float]:
    client = AsyncModbusTcpClient("127.0.0.1", port=port, timeout=5)
    await client.connect()
    read = client.read_holding_registers if function == 3 else client.read_input_registers
    try:
        out: dict[str, float] = {}
        rr = await read(0x0006, count=2, device_id=9)
        assert not rr.isError(), rr
        out["irat"], out["urat"] = rr.registers[0], rr.registers[1] * 0.1
        for name, (address, unit) in FLOATS.items():
            rr = await read(address, count=2, device_id=9)
            assert not rr.isError(), f"function {function:02d} at {address:#06x}: {rr}"
            raw = struct.unpack(">f", b"".join(w.to_bytes(2, "big") for w in rr.registers))[0]
            out[name] = raw * unit
        return out
    finally:
        client.close()


@pytest.mark.parametrize(("ct", "irat"), [(None, 1), ("400/5", 80)])
async def test_the_manual_table_over_functions_3_and_4(ct: str | None, irat: int) -> None:
    cfg = plant(ct)
    port = cfg.devices()[0][1].port
    async with served_fleet(cfg) as fleet:
        meter = fleet.devices["meter"]
        assert isinstance(meter, SimMeter)
        by_03 = await read_manual_table(port, 3)
        by_04 = await read_manual_table(port, 4)
    assert by_03 == by_04  # the same registers whichever function reads them
    got = by_03
    assert (got["irat"], got["urat"]) == (irat, pytest.approx(1.0))
    ct_pt = got["irat"] * got["urat"]
    # primary side by the manual's formulas; the meter counts export as reverse (negative)
    assert -got["pt"] * ct_pt == pytest.approx(meter.p_w, rel=1e-5)
    assert meter.p_w > 150_000
    assert got["exp_ep"] * ct_pt == pytest.approx(meter.e_export_wh / 1000, rel=1e-6)
    assert got["imp_ep"] * ct_pt == pytest.approx(meter.e_import_wh / 1000, rel=1e-6)
    assert got["ua"] * got["urat"] == pytest.approx(230.0)
    assert got["ia"] * got["irat"] == pytest.approx(meter.published["i_l1_a"], rel=1e-5)
    assert got["freq"] == pytest.approx(50.0)
    if irat > 1:  # the secondary side: a 5 A CT's few amperes, not the plant's hundreds
        assert got["ia"] < 5.0 < meter.published["i_l1_a"]


async def test_the_collector_stores_primary_side_values_behind_a_400_5_ct() -> None:
    async with rig(plant("400/5")) as r:
        r.at(0)
        reading = await r.read("meter")
        meter = r.fleet.devices["meter"]
        assert isinstance(meter, SimMeter)
        words = meter.image.read("holding", 0x2012, 2)
        assert words is not None
        secondary_w = -struct.unpack(">f", b"".join(w.to_bytes(2, "big") for w in words))[0] / 10
    assert reading.good("p_w") == pytest.approx(meter.p_w, rel=1e-5)
    assert reading.good("p_w") == pytest.approx(80 * secondary_w, rel=1e-5)
    assert reading.good("e_export_kwh") == pytest.approx(meter.e_export_wh / 1000, rel=1e-6)
    assert reading.good("i_l1_a") == pytest.approx(meter.published["i_l1_a"], rel=1e-5)
    assert reading.good("v_l1_v") == pytest.approx(230.0)


def test_transformers_only_for_a_meter_that_reports_its_secondary_side() -> None:
    sunspec = gateway_config([{"id": "meter", "unit_id": 9, "profile": "sunspec-meter"}],
                             simulator={"meter_transformers": {"meter": {"ct": "400/5"}}})
    with pytest.raises(ValueError, match="reports primary values"):
        Fleet(sunspec, Clock.starting(sunspec.simulator.start, 1.0))
    nobody = gateway_config(inverters(1),
                            simulator={"meter_transformers": {"meter": {"ct": "400/5"}}})
    with pytest.raises(ValueError, match="no meter meter"):
        Fleet(nobody, Clock.starting(nobody.simulator.start, 1.0))
    with pytest.raises(ValueError, match=r"ratio 40000 is outside"):  # IrAt holds 1..9999
        plant("40000/1")
