"""`pvrelief scan` finds and identifies one simulated device of every profile on a gateway."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from pymodbus.constants import ExcCodes
from pymodbus.exceptions import NoSuchIdException
from typer.testing import CliRunner

from collector.sources.modbus.scan import ScanResult, matches, parse_units
from collector.sources.modbus.scan import scan_target as run_scan
from config.profiles import Identify, ProfileRegistry, load_registry
from localsite.servers import free_port
from pvrelief.cli import app
from pvrelief.cmd_devices import parse_target
from simulator.devices import SimDevice, SimInverter, SimMeter
from simulator.modbus_server import ImageContext, SimServer

REGISTRY = load_registry()
DEAD_UNIT = 40


def simulated(registry: ProfileRegistry) -> dict[int, SimDevice]:
    units: dict[int, SimDevice] = {}
    # a profile that discovers its layout (sunspec-auto) has none to serve: the devices it
    # reads are served under their own profile (sunspec-inverter)
    laid_out = [n for n in sorted(registry)
                if not (registry[n].sunspec_discover and not registry[n].sunspec_blocks)]
    for unit, name in enumerate(laid_out, start=1):
        profile = registry[name]
        if profile.kind == "inverter":
            inv = SimInverter(id=f"inv-{unit}", plant="p", unit_id=unit, profile=profile)
            inv.advance(60.0, 52_000.0, 15.0, 40.0, 54_000.0)
            units[unit] = inv
        else:
            meter = SimMeter(id=f"meter-{unit}", plant="p", unit_id=unit, profile=profile)
            meter.advance(60.0, 52_000.0)
            units[unit] = meter
    return units


@pytest.fixture
async def gateway() -> AsyncIterator[tuple[int, SimServer, dict[int, SimDevice]]]:
    units = simulated(REGISTRY)
    dead = SimMeter(id="dead", plant="p", unit_id=DEAD_UNIT, profile=REGISTRY["chint-dtsu666"])
    server = SimServer("127.0.0.1", free_port(), {**units, DEAD_UNIT: dead})
    server.context.behaviour[DEAD_UNIT].dead = True
    await server.start()
    yield server.port, server, units
    await server.stop()


async def test_scan_identifies_every_profile(gateway) -> None:  # type: ignore[no-untyped-def]
    port, server, units = gateway
    asked = [*units, DEAD_UNIT, DEAD_UNIT + 1]  # one unit that never answers, one not there
    results = await run_scan("127.0.0.1", port, asked, 0.3, REGISTRY)
    found = {r.unit: r for r in results}
    assert {u: r.profile for u, r in found.items()} == {u: d.profile.name for u, d in units.items()}
    for unit, dev in units.items():
        if dev.profile.name in ("huawei-sun2000", "sungrow-sg", "sunspec-inverter",
                                "sunspec-meter"):
            assert found[unit].serial == dev.id.upper(), dev.profile.name
    assert "SG110CX" in found[_unit_of(units, "sungrow-sg")].detail
    assert "SUN2000" in found[_unit_of(units, "huawei-sun2000")].detail.upper()
    assert found[_unit_of(units, "sunspec-inverter")].models == (1, 103, 160)
    assert set(server.context.function_codes) <= {3, 4}, "a scan must never write"


def _unit_of(units: dict[int, SimDevice], profile: str) -> int:
    return next(u for u, d in units.items() if d.profile.name == profile)


def test_unit_ranges() -> None:
    assert parse_units("1-3,7, 10-11") == [1, 2, 3, 7, 10, 11]
    assert parse_units("5") == [5]
    with pytest.raises(ValueError, match="0-247"):
        parse_units("240-250")


def test_targets() -> None:
    assert parse_target("10.0.0.5") == ("10.0.0.5", 502)
    assert parse_target("10.0.0.5:1502") == ("10.0.0.5", 1502)
    assert parse_target("[fe80::1]:503") == ("fe80::1", 503)


def test_identify_rules() -> None:
    sungrow = REGISTRY["sungrow-sg"].identify
    assert sungrow is not None and sungrow.address == 4999  # document 5000, wire 4999
    assert matches(sungrow, [0x2C06]) == "SG110CX (0x2C06)"
    assert matches(sungrow, [0x1234]) is None
    freq = Identify("holding", 0x2044, "float32", 2, None, None, (4500.0, 6500.0), "frequency")
    assert matches(freq, [0x459C, 0x4800]) == "frequency 5001"  # 5001.0 = 50.01 Hz
    assert matches(freq, [0, 0]) is None


def test_scan_result_defaults() -> None:
    assert ScanResult(3, None).models == ()


def test_plan_command_shows_each_read(tmp_path: Path) -> None:
    config = tmp_path / "site.yaml"
    config.write_text(
        "counties:\n"
        "  - id: c\n"
        "    plants:\n"
        "      - id: p\n"
        "        capacity_kwp_dc: 330\n"
        "        capacity_kw_ac: 300\n"
        "        latitude: 36.27\n"
        "        longitude: 100.62\n"
        "        devices:\n"
        "          - {id: inv-1, profile: sungrow-sg, unit_id: 1}\n"
        "          - {id: meter, profile: chint-dtsu666, unit_id: 2}\n"
        "          - {id: hw, profile: huawei-sun2000, unit_id: 3}\n"
    )
    result = CliRunner().invoke(app, ["plan", "inv-1", "--config", str(config)])
    assert result.exit_code == 0, result.output
    assert "04 input" in result.output
    assert "5002 (doc 5003)" in result.output  # wire and document addresses side by side
    assert "p_ac_w@5031" in result.output
    result = CliRunner().invoke(app, ["plan", "meter", "--config", str(config)])
    assert result.exit_code == 0, result.output
    # the CT/PT ratios (0x0006-0x0007), the energies (0x101E-0x1029), the measurements
    assert "3 reads per poll" in result.output
    assert "at most 125 registers, gaps of at most 50" in result.output
    result = CliRunner().invoke(app, ["plan", "hw", "--config", str(config)])
    assert result.exit_code == 0, result.output
    assert "at most 64 registers, gaps of at most 16" in result.output  # the profile's caps
    result = CliRunner().invoke(app, ["plan", "nope", "--config", str(config)])
    assert result.exit_code == 2


class SilentOn(ImageContext):
    """A real pymodbus server whose units never answer reads touching some registers, as a
    SUN2000 behind some SDongles stays silent on 40000 instead of answering exception 2.
    The simulator's own switches silence a whole unit only, hence this subclass."""

    def __init__(self, units: dict[int, SimDevice], silent: range) -> None:
        super().__init__(units)
        self.silent = silent

    async def async_getValues(self, device_id: int, func_code: int, address: int,
                              count: int = 1) -> list[int] | list[bool] | ExcCodes:
        if address < self.silent.stop and self.silent.start < address + count:
            raise NoSuchIdException("silent here")  # pymodbus then sends nothing back
        return await super().async_getValues(device_id, func_code, address, count)


async def test_a_timeout_on_the_sunspec_probe_is_not_an_absent_unit() -> None:
    """Before the fix, a timeout at 40000 ended the scan of the unit: the Huawei rule was
    never tried and the inverter was reported absent."""
    profile = REGISTRY["huawei-sun2000"]
    inv = SimInverter(id="hw-7", plant="p", unit_id=7, profile=profile)
    inv.advance(60.0, 52_000.0, 15.0, 40.0, 54_000.0)
    server = SimServer("127.0.0.1", free_port(), {7: inv})
    server.context = SilentOn({7: inv}, range(40000, 40002))
    await server.start()
    try:
        results = await run_scan("127.0.0.1", server.port, [7], 0.3, REGISTRY)
    finally:
        await server.stop()
    assert [(r.unit, r.profile) for r in results] == [(7, "huawei-sun2000")]
    assert results[0].serial == "HW-7"


async def test_a_unit_is_absent_only_when_every_probe_times_out(gateway) -> None:  # type: ignore[no-untyped-def]
    port, server, _ = gateway
    asked = server.context.function_codes.copy()
    assert await run_scan("127.0.0.1", port, [DEAD_UNIT], 0.2, REGISTRY) == []
    probes = sum((server.context.function_codes - asked).values())
    # 3 SunSpec bases + one probe per identify rule: all asked, all unanswered
    rules = sum(1 for p in REGISTRY.values() if p.identify)
    assert probes == 3 + rules, probes
