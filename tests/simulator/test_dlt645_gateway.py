"""DL/T 645 meters behind the simulated gateway, read over real TCP on loopback: serial timing,
several meters on one bus, collisions, faults from the config, and the plant's physics."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from collector.sources.dlt645.codec import (
    address_reply,
    address_request,
    decoders,
    read_reply,
    read_request,
)
from collector.sources.dlt645.errors import ChecksumError, ErrorReply
from config.dlt645_identifiers import load_catalog
from config.schema import Config
from simulator.dlt645_gateway import TURNAROUND_S, SimDlt645Gateway
from simulator.fleet import Fleet
from tests.simulator.dlt645_rig import dlt645_config, exchange
from timebase.clock import Clock

DECODERS = decoders(load_catalog())
A1, A2 = "000012345678", "000087654321"
MIN_NS = 60 * 10**9
TWO_METERS = [{"id": "gk-1", "address": A1, "export_is": "reverse"},
              {"id": "gk-2", "address": A2, "export_is": "forward", "ct_ratio": 2}]


@asynccontextmanager
async def served(cfg: Config) -> AsyncIterator[tuple[Fleet, SimDlt645Gateway]]:
    clock = Clock.starting(cfg.simulator.start, 1.0)
    fleet = Fleet(cfg, clock)
    fleet.step(clock.sim_start_ns)
    await fleet.dlt645.start()
    try:
        yield fleet, fleet.dlt645.gateways[0]
    finally:
        await asyncio.wait_for(fleet.dlt645.stop(), 10)


def energy(ex_frames: list, address: str, di: int) -> float:  # type: ignore[type-arg]
    (frame,) = ex_frames
    (value,) = DECODERS[di].decode(read_reply(frame, address, di).payload)
    assert value.value is not None
    return value.value


@pytest.mark.parametrize("baud", [2400, 9600])
async def test_an_answer_takes_its_bytes_time_on_the_wire(baud: int) -> None:
    async with served(dlt645_config(TWO_METERS, gateway={"baud": baud})) as (_, gw):
        request = read_request(A1, 0x0002FF00)  # 4 FE + 16 bytes
        ex = await exchange(gw.host, gw.port, request)
        (frame,) = ex.frames
        reply_bytes = 12 + len(frame.data) + gw.meters[0].reply_preamble
        # 8E1 is 11 bits a byte; nothing can come back before the request is out, the meter
        # has turned round and the whole answer has crossed the wire
        least = (len(request) + reply_bytes) * 11 / baud + TURNAROUND_S
        assert ex.seconds >= least * 0.99
        assert gw.collisions == 0 and gw.requests == 1


async def test_each_meter_answers_to_its_own_address_only() -> None:
    async with served(dlt645_config(TWO_METERS, gateway={"baud": 9600})) as (fleet, gw):
        truth = fleet.ground_truth()
        ex1 = await exchange(gw.host, gw.port, read_request(A1, 0x00020000))
        assert energy(ex1.frames, A1, 0x00020000) == pytest.approx(
            truth["gk-1"]["e_export_kwh"], abs=0.01)
        # gk-2 counts export as forward energy, and the secondary side of a 2:1 CT
        ex2 = await exchange(gw.host, gw.port, read_request(A2, 0x00010000))
        assert energy(ex2.frames, A2, 0x00010000) == pytest.approx(
            truth["gk-2"]["e_export_kwh"] / 2, abs=0.01)
        nobody = await exchange(gw.host, gw.port, read_request("000000000001", 0x00010000),
                                wait_s=0.5)
        assert nobody.frames == [] and nobody.errors == []
        assert gw.collisions == 0


async def test_read_address_finds_a_lone_meter_and_collides_with_two() -> None:
    async with served(dlt645_config(TWO_METERS[:1], gateway={"baud": 9600})) as (_, gw):
        ex = await exchange(gw.host, gw.port, address_request())
        assert address_reply(ex.frames[0]) == A1
    async with served(dlt645_config(TWO_METERS, gateway={"baud": 9600})) as (_, gw):
        ex = await exchange(gw.host, gw.port, address_request(), wait_s=0.6)
        # both meters drive the bus at once: what arrives is garbage, never an address
        assert ex.frames == [] and gw.collisions == 1
        # an abbreviated address (AA for the unknown high bytes) picks one out
        ex = await exchange(gw.host, gw.port, address_request("AAAAAAAA4321"))
        assert address_reply(ex.frames[0], "AAAAAAAA4321") == A2


async def test_a_request_sent_while_a_meter_answers_collides() -> None:
    async with served(dlt645_config(TWO_METERS, gateway={"baud": 2400})) as (_, gw):
        reader, writer = await asyncio.open_connection(gw.host, gw.port)
        try:
            # two requests back to back, without waiting for the first answer: gk-1 starts
            # answering 30 ms after its request, while the second request is still going out
            both = read_request(A1, 0x00020000) + read_request(A2, 0x00010000)
            ex = await exchange(gw.host, gw.port, both, frames=2, wait_s=1.0,
                                writer_reader=(writer, reader))
        finally:
            writer.close()
        assert gw.collisions == 1
        assert ex.frames == [] and ex.noise > 0  # gk-1's answer spoilt, gk-2 never heard
        assert gw.requests == 1


async def test_faults_from_the_config_on_the_simulated_clock() -> None:
    faults = [{"device": "gk-1", "kind": "bad_checksum", "from": 0, "until": 600},
              {"device": "gk-1", "kind": "error_reply", "code": 2, "from": 600, "until": 1200},
              {"device": "gk-1", "kind": "no_answer", "from": 1200, "until": 1800},
              {"device": "gk-1", "kind": "slow_answer", "delay_s": 0.3, "from": 1800,
               "until": 2400},
              {"device": "gk-1", "kind": "counter_reset", "from": 2400, "until": 3000}]
    cfg = dlt645_config(TWO_METERS, faults=faults, gateway={"baud": 9600})
    async with served(cfg) as (fleet, gw):
        t0 = fleet.clock.sim_start_ns
        req = read_request(A1, 0x00020000)
        ex = await exchange(gw.host, gw.port, req)
        assert isinstance(ex.errors[0], ChecksumError)
        fleet.step(t0 + 11 * MIN_NS)
        ex = await exchange(gw.host, gw.port, req)
        with pytest.raises(ErrorReply, match="no requested data"):
            read_reply(ex.frames[0], A1, 0x00020000)
        fleet.step(t0 + 21 * MIN_NS)
        ex = await exchange(gw.host, gw.port, req, wait_s=0.5)
        assert ex.frames == [] and ex.errors == []
        ok = await exchange(gw.host, gw.port, read_request(A2, 0x00010000))
        assert ok.frames  # its neighbour on the bus answers meanwhile
        fleet.step(t0 + 31 * MIN_NS)
        slow = await exchange(gw.host, gw.port, req)
        wire = (len(req) + 12 + len(slow.frames[0].data) + gw.meters[0].reply_preamble) * 11
        assert slow.seconds >= (wire / 9600 + TURNAROUND_S + 0.3) * 0.99
        fleet.step(t0 + 41 * MIN_NS)
        ex = await exchange(gw.host, gw.port, req)
        assert energy(ex.frames, A1, 0x00020000) == 0.0
        fleet.step(t0 + 51 * MIN_NS)
        ex = await exchange(gw.host, gw.port, req)
        assert energy(ex.frames, A1, 0x00020000) == pytest.approx(
            fleet.ground_truth()["gk-1"]["e_export_kwh"], abs=0.01)


async def test_the_meter_meters_the_plants_physics_like_a_modbus_meter() -> None:
    # a plant with inverters, a Modbus meter and a DL/T 645 meter: over three hours around
    # noon both meters count the same export, from the same inverter power
    modbus = [{"id": "inv", "profile": "sunspec-inverter"},
              {"id": "mb-meter", "profile": "sunspec-meter"}]
    cfg = dlt645_config(TWO_METERS[:1], modbus=modbus)
    fleet = Fleet(cfg, Clock.starting(cfg.simulator.start, 1.0))
    t0 = fleet.clock.sim_start_ns
    fleet.step(t0)
    before = fleet.ground_truth()
    for minute in range(1, 181):
        fleet.step(t0 + minute * MIN_NS)
    after = fleet.ground_truth()
    grown = {d: after[d]["e_export_kwh"] - before[d]["e_export_kwh"] for d in ("mb-meter", "gk-1")}
    assert grown["gk-1"] > 50  # a 60 kW plant around noon
    assert grown["gk-1"] == pytest.approx(grown["mb-meter"], rel=1e-9)
    assert after["gk-1"]["p_w"] == pytest.approx(after["mb-meter"]["p_w"])
