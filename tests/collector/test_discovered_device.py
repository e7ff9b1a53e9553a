"""A device configured with `sunspec-auto` is discovered on its first poll, then decoded.

The simulator serves a real SunSpec inverter (profile sunspec-inverter: models 1, 103, 160)
on a pymodbus server; the collector only knows "some SunSpec inverter" and must read the
model chain from the device before it can poll anything. Before the fix, such a device was
polled with zero reads, counted as healthy, and nothing was stored.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from collector.reading import Reading
from collector.runner import Collector
from collector.sinks.base import CallbackSink
from collector.sources.modbus.poller import DiscoveringPoller
from config.schema import Config
from localsite.servers import free_port
from simulator.fleet import Fleet
from tests.simulator.gateway_fleet import gateway_config, wait_until
from timebase.clock import Clock

SPEED = 60.0  # one 60 s poll interval is one real second


def configs(faults: list[dict[str, Any]] | None = None) -> tuple[Config, Config]:
    """(what the simulator serves, what the collector is told): same gateway and unit ids."""
    port = free_port()

    def devices(inverter_profile: str) -> list[dict[str, Any]]:
        return [{"id": "inv-01", "unit_id": 1, "profile": inverter_profile},
                {"id": "meter", "unit_id": 2, "profile": "sunspec-meter"}]

    served = gateway_config(devices("sunspec-inverter"), speed=SPEED, faults=faults,
                            gateway={"port": port})
    told = gateway_config(devices("sunspec-auto"), speed=SPEED, gateway={"port": port})
    return served, told


async def collect(served: Config, told: Config, enough: int, timeout: float = 30.0
                  ) -> tuple[Fleet, Collector, list[Reading], dict[str, float]]:
    clock = Clock.starting(served.simulator.start, served.simulator.speed)
    fleet = Fleet(served, clock)
    got: list[Reading] = []
    truth: dict[str, float] = {}

    async def deliver(readings: Sequence[Reading]) -> None:
        got.extend(readings)
        inv = fleet.devices["inv-01"]
        for r in readings:
            if r.device == "inv-01":  # what the simulator served at that instant
                truth["p_ac_w"], truth["e_total_kwh"] = inv.p_ac_w, inv.e_total_wh / 1000

    collector = Collector(told, [CallbackSink(deliver)], clock)
    async with fleet:
        await collector.start()
        try:
            await wait_until(lambda: sum(r.device == "inv-01" and r.good("p_ac_w") is not None
                                         for r in got) >= enough, timeout, "decoded readings")
        finally:
            await collector.stop()
    return fleet, collector, got, truth


async def test_a_sunspec_auto_device_is_discovered_and_decoded() -> None:
    served, told = configs()
    _, collector, got, truth = await collect(served, told, enough=3)
    poller = next(p for p in collector.pollers if p.device.id == "inv-01")
    assert isinstance(poller, DiscoveringPoller) and poller.resolved is not None
    assert [b.model_id for b in poller.resolved.sunspec_blocks] == [1, 103, 160]
    assert poller.decoder.reads, "a discovered device must read something"
    last = [r for r in got if r.device == "inv-01"][-1]
    assert last.good("p_ac_w") == pytest.approx(truth["p_ac_w"], rel=0.01, abs=20)
    assert last.good("e_total_kwh") == pytest.approx(truth["e_total_kwh"], rel=1e-4, abs=0.01)
    assert last.good("pv2_v_v") is not None  # model 160's repeating block, as the device has it
    guard = collector.counters.guards.get("inv-01")
    assert guard is not None and "e_total_kwh" in guard.counters


async def test_an_unreachable_device_is_discovered_once_it_answers() -> None:
    """Silent for the first 3 simulated minutes: start-up is not blocked (the meter is polled
    meanwhile), discovery polls fail and back off, and the device is decoded once it answers."""
    served, told = configs(faults=[{"device": "inv-01", "kind": "no_answer", "until": 180}])
    _, collector, got, _ = await collect(served, told, enough=2)
    poller = next(p for p in collector.pollers if p.device.id == "inv-01")
    assert poller.state.failures >= 1 and poller.resolved is not None
    first_inverter = next(i for i, r in enumerate(got) if r.device == "inv-01")
    assert any(r.device == "meter" for r in got[:first_inverter]), "start-up was blocked"
