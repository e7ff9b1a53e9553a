"""SunSpec discovery walks a device's model chain as the SunSpec specification says."""

from __future__ import annotations

from pathlib import Path

import pytest

from collector.sources.modbus.decode import DeviceDecoder
from collector.sources.modbus.discovery import (
    DiscoveryError,
    ReadHolding,
    discover,
    profile_from_chain,
    read_common,
    resolve_discovered,
)
from collector.sources.modbus.endpoint import ModbusEndpoint
from collector.sources.modbus.scan import endpoint_reader
from config.profiles import Profile, load_profile, load_registry
from localsite.servers import free_port
from simulator.devices import SimInverter
from simulator.image import RegisterImage
from simulator.modbus_server import SimServer


def image_reader(image: RegisterImage) -> ReadHolding:
    async def read(address: int, count: int) -> list[int] | None:
        return image.read("holding", address, count)
    return read


def write_profile(folder: Path, name: str, sunspec: str) -> Profile:
    path = folder / f"{name}.yaml"
    path.write_text(f"name: {name}\nkind: inverter\nvendor: test\ndocument: SunSpec test\n"
                    f"sunspec: {sunspec}\n")
    return load_profile(path)


async def test_walks_the_chain_of_the_simulated_inverter() -> None:
    profile = load_registry()["sunspec-inverter"]
    chain = await discover(image_reader(RegisterImage(profile)))
    assert chain.base == 40000
    assert [(b.model_id, b.address, b.length) for b in chain.blocks] == [
        (1, 40002, 66), (103, 40070, 50), (160, 40122, 8 + 2 * 20)]


@pytest.mark.parametrize("base", [0, 50000])
async def test_finds_the_marker_at_the_other_standard_bases(tmp_path: Path, base: int) -> None:
    layout = f"{{base: {base}, models: [{{id: 1}}, {{id: 103}}]}}"
    profile = write_profile(tmp_path, "at-base", layout)
    chain = await discover(image_reader(RegisterImage(profile)))
    assert chain.base == base
    assert chain.model_ids == (1, 103)


async def test_steps_over_vendor_models_and_counts_repeating_blocks(tmp_path: Path) -> None:
    device = write_profile(
        tmp_path, "device",
        "{models: [{id: 1}, {id: 64001, length: 10}, {id: 103}, {id: 160, repeats: 3}]}")
    template = write_profile(tmp_path, "template", "{discover: true}")
    assert template.sunspec_discover and [p.name for p in template.points] == ["SunS"]
    resolved = await resolve_discovered(template, image_reader(RegisterImage(device)))
    assert resolved.name == "template"
    assert [(p.name, p.address) for p in resolved.points] == \
        [(p.name, p.address) for p in device.points]
    assert resolved.by_name["160.3.DCV"].field == "pv3_v_v"


async def test_a_discovered_profile_decodes_the_device(tmp_path: Path) -> None:
    device_profile = load_registry()["sunspec-inverter"]
    image = RegisterImage(device_profile)
    image.set_field("p_ac_w", 41_230.0)
    image.set_status("running")
    template = write_profile(tmp_path, "any-sunspec", "{discover: true}")
    profile = await resolve_discovered(template, image_reader(image))
    decoder = DeviceDecoder(profile)
    got = decoder.decode([image.read(r.table, r.address, r.count) or [] for r in decoder.reads])
    assert got.fields["p_ac_w"] == 41_230.0
    assert got.status == "running"


async def test_a_shorter_model_keeps_only_the_points_it_holds(tmp_path: Path) -> None:
    # some devices announce model 1 as 65 registers (no pad): the layout must follow them
    device = write_profile(tmp_path, "short", "{models: [{id: 1, length: 65}, {id: 103}]}")
    chain = await discover(image_reader(RegisterImage(device)))
    assert [(b.model_id, b.length) for b in chain.blocks] == [(1, 65), (103, 50)]
    profile = profile_from_chain(device, chain)
    assert "1.Pad" not in profile.by_name
    assert profile.by_name["103.W"].address == 40000 + 2 + 2 + 65 + 2 + 12


async def test_no_marker_is_an_error() -> None:
    meter = load_registry()["chint-dtsu666"]
    with pytest.raises(DiscoveryError, match="no SunSpec marker"):
        await discover(image_reader(RegisterImage(meter)))


async def test_a_broken_chain_is_an_error() -> None:
    words = {40000: 0x5375, 40001: 0x6E53, 40002: 1, 40003: 66}  # model 1, then nothing

    async def read(address: int, count: int) -> list[int] | None:
        got = [words.get(a) for a in range(address, address + count)]
        return None if None in got else [w for w in got if w is not None]

    with pytest.raises(DiscoveryError, match="no model header at 40070"):
        await discover(read)


async def test_discovers_over_modbus_tcp() -> None:
    profile = load_registry()["sunspec-inverter"]
    inverter = SimInverter(id="ss-1", plant="p", unit_id=3, profile=profile)
    server = SimServer("127.0.0.1", free_port(), {3: inverter})
    await server.start()
    endpoint = ModbusEndpoint("127.0.0.1", server.port, 1.0)
    try:
        read = endpoint_reader(endpoint, 3)

        async def holding(address: int, count: int) -> list[int] | None:
            return await read("holding", address, count)

        chain = await discover(holding)
        common = await read_common(holding, chain)
    finally:
        await endpoint.close()
        await server.stop()
    assert chain.model_ids == (1, 103, 160)
    assert common is not None
    assert (common.manufacturer, common.serial) == ("pvrelief", "SS-1")


@pytest.mark.parametrize(("kind", "models"), [
    ("inverter", "[{id: 1}, {id: 101}]"), ("inverter", "[{id: 1}, {id: 102}]"),
    ("inverter", "[{id: 1}, {id: 111}]"), ("inverter", "[{id: 1}, {id: 112}]"),
    ("inverter", "[{id: 1}, {id: 113}, {id: 120}, {id: 160, repeats: 2}]"),
    ("meter", "[{id: 1}, {id: 201}]"), ("meter", "[{id: 1}, {id: 202}]"),
    ("meter", "[{id: 1}, {id: 204}]"),
])
async def test_every_model_is_discovered_and_decoded(tmp_path: Path, kind: str,
                                                     models: str) -> None:
    path = tmp_path / "dev.yaml"
    path.write_text(f"name: dev\nkind: {kind}\nvendor: t\ndocument: SunSpec test\n"
                    f"sunspec: {{models: {models}}}\n")
    device = load_profile(path)
    image = RegisterImage(device)
    want = {"p_ac_w": 12_345.0, "f_ac_hz": 50.02, "e_total_kwh": 9876.5} if kind == "inverter" \
        else {"p_w": -2_500.0, "f_hz": 49.98, "e_export_kwh": 4321.0}
    for f, v in want.items():
        image.set_field(f, v)
    template = write_profile(tmp_path, "template", "{discover: true}")
    profile = await resolve_discovered(template, image_reader(image))
    assert [b.model_id for b in profile.sunspec_blocks] == \
        [b.model_id for b in device.sunspec_blocks]
    decoder = DeviceDecoder(profile)
    got = decoder.decode([image.read(r.table, r.address, r.count) or [] for r in decoder.reads])
    for f, v in want.items():
        assert got.fields[f] == pytest.approx(v, rel=1e-6, abs=0.006), f
