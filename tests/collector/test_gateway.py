"""Many unit ids behind one gateway: a dead one never stalls the others; workarounds work."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from collector.reading import Reading
from collector.runner import Collector
from collector.sinks.base import CallbackSink
from collector.sources.modbus.endpoint import ModbusEndpoint
from collector.sources.modbus.source import modbus_source
from collector.sources.polling import PollHook
from config.schema import Config
from simulator.fleet import Fleet
from tests.simulator.gateway_fleet import bounded, gateway_config, inverters, wait_until
from timebase.clock import Clock

WRITE_CODES = (5, 6, 15, 16, 22, 23)
POLL_S = 60.0
SPEED = 60.0  # one poll interval is one real second
DEAD_FROM_SLOT = 8  # slots with every unit answering: the baseline
DEAD_SLOTS = 14  # slots after one unit died


async def run_until(cfg: Config, done: Callable[[Collector], bool], timeout: float = 40.0,
                    on_poll: PollHook | None = None,
                    ) -> tuple[Fleet, Collector, list[Reading]]:
    clock = Clock.starting(cfg.simulator.start, cfg.simulator.speed)
    fleet = Fleet(cfg, clock)
    got: list[Reading] = []

    async def deliver(readings: Sequence[Reading]) -> None:
        # the devices' readings: the alarm stage's transitions reach the sinks too
        got.extend(r for r in readings if r.kind != "alarm")

    collector = Collector(cfg, [CallbackSink(deliver)], clock, on_poll=on_poll)
    await fleet.start()
    try:
        await collector.start()
        try:
            await wait_until(lambda: done(collector), timeout, "enough polls")
        finally:
            await bounded(collector.stop(), 20, "collector.stop()")
    finally:
        await bounded(fleet.stop(), 20, "fleet.stop()")
    return fleet, collector, got


async def test_a_dead_unit_never_costs_the_others_a_slot() -> None:
    # How late the dead unit makes the others is a figure, measured in bench/gateway.py
    # against a baseline from the same run; here, what must hold however loaded the machine:
    # every live slot polled and answered, the dead unit backed off.
    meters = [{"id": f"meter-{n}", "unit_id": 8 + n, "profile": "sunspec-meter",
               "poll_interval_s": POLL_S} for n in (1, 2)]
    devices = [*inverters(8, poll_s=POLL_S), *meters]
    dies_s = DEAD_FROM_SLOT * POLL_S
    # 0.4 s: a live answer on a loaded machine takes well under that
    cfg = gateway_config(devices, speed=SPEED, timeout_s=0.4,
                         faults=[{"device": "inv-05", "kind": "no_answer", "from": dies_s}])
    fleet, collector, got = await run_until(
        cfg, lambda c: all(p.state.polls >= DEAD_FROM_SLOT + DEAD_SLOTS
                           for p in c.pollers if p.device.id != "inv-05"),
        timeout=60)

    live = [p for p in collector.pollers if p.device.id != "inv-05"]
    dead = next(p for p in collector.pollers if p.device.id == "inv-05")
    dies_ns = fleet.clock.sim_start_ns + int(dies_s * 1e9)
    # the live units kept their schedule: every slot polled, every poll answered
    assert all(p.state.failures == 0 and p.state.skipped_slots == 0 for p in live), [
        (p.device.id, p.state.failures, p.state.skipped_slots) for p in live]
    assert dead.state.failures >= 2 and dead.state.skipped_slots >= 1  # backed off
    # (the fault takes hold at the next physics tick: a poll due at that instant may answer)
    assert not [r for r in got if r.device == "inv-05" and r.ts_ns >= dies_ns + int(POLL_S * 1e9)]
    codes = fleet.function_codes()
    assert not any(codes.get(c) for c in WRITE_CODES), codes
    assert codes.get(3, 0) > 0


async def test_close_after_cycle_reconnects_for_every_poll() -> None:
    cfg = gateway_config(inverters(3), speed=SPEED, gateway={"close_after_cycle": True})
    _, collector, got = await run_until(
        cfg, lambda c: all(p.state.polls >= 3 for p in c.pollers))
    endpoint = collector.pollers[0].endpoint
    assert len(modbus_source(collector).endpoints) == 1
    assert endpoint.connects >= len(got) >= 6
    assert all(p.state.failures == 0 for p in collector.pollers)


async def test_pauses_after_connect_and_between_requests() -> None:
    cfg = gateway_config(inverters(1), speed=SPEED,
                         gateway={"pause_after_connect_s": 0.2,
                                  "pause_between_requests_s": 0.05})
    clock = Clock.starting(cfg.simulator.start, cfg.simulator.speed)
    async with Fleet(cfg, clock):
        collector = Collector(cfg, [CallbackSink(_discard)], clock)
        poller = collector.pollers[0]
        endpoint: ModbusEndpoint = poller.endpoint
        assert endpoint.options.pause_after_connect_s == 0.2
        reads = len(poller.decoder.reads)
        t = time.perf_counter()
        first = await poller.read()
        with_connect = time.perf_counter() - t
        t = time.perf_counter()
        await poller.read()
        connected = time.perf_counter() - t
        await collector.stop()
    assert first.good("p_ac_w")
    assert with_connect >= 0.2 + 0.05 * (reads - 1)
    assert connected >= 0.05 * reads  # the previous poll's last request counts too
    assert endpoint.connects == 1


async def test_gateway_timeout_defaults_to_the_collector_timeout() -> None:
    cfg = gateway_config(inverters(1), collector={"timeout_s": 1.5}, gateway={"timeout_s": None})
    collector = Collector(cfg, [CallbackSink(_discard)])
    assert collector.pollers[0].endpoint.timeout_s == 1.5
    assert collector.pollers[0].endpoint.label.startswith("gateway gw1")
    await collector.stop()


async def _discard(readings: Sequence[Reading]) -> None:
    return None
