"""Many unit ids behind one gateway: a dead one never stalls the others; workarounds work."""

from __future__ import annotations

import itertools
import statistics
import time
from collections.abc import Sequence

from collector.clock import SimClock
from collector.modbus import ModbusEndpoint
from collector.reading import Reading
from collector.runner import Collector
from config.schema import Config
from simulator.fleet import Fleet
from tests.simulator.gateway_fleet import gateway_config, inverters, wait_until

WRITE_CODES = (5, 6, 15, 16, 22, 23)
POLL_S = 60.0
SPEED = 60.0  # one poll interval is one real second
INTERVAL_REAL_S = POLL_S / SPEED


async def run_until(cfg: Config, done, timeout: float = 40.0) -> tuple[Fleet, Collector,
                                                                       list[Reading]]:
    clock = SimClock.starting(cfg.simulator.start, cfg.simulator.speed)
    fleet = Fleet(cfg, clock)
    got: list[Reading] = []

    async def deliver(readings: Sequence[Reading]) -> None:
        got.extend(readings)

    collector = Collector(cfg, deliver, clock)
    async with fleet:
        await collector.start()
        try:
            await wait_until(lambda: done(collector), timeout, "enough polls")
        finally:
            await collector.stop()
    return fleet, collector, got


async def test_a_dead_unit_delays_the_others_by_under_10_percent() -> None:
    meters = [{"id": f"meter-{n}", "unit_id": 8 + n, "profile": "sunspec-meter",
               "poll_interval_s": POLL_S} for n in (1, 2)]
    devices = [*inverters(8, poll_s=POLL_S), *meters]
    cfg = gateway_config(devices, speed=SPEED, timeout_s=0.25,
                         faults=[{"device": "inv-05", "kind": "no_answer"}])
    fleet, collector, got = await run_until(
        cfg, lambda c: all(p.state.polls >= 10 for p in c.pollers if p.device.id != "inv-05"))

    live = [p for p in collector.pollers if p.device.id != "inv-05"]
    dead = next(p for p in collector.pollers if p.device.id == "inv-05")
    late = [s for p in live for s in p.state.late_s]
    mean_late = statistics.fmean(late)
    print(f"\nlive lateness: mean {mean_late * 1000:.1f} ms, max {max(late) * 1000:.1f} ms "
          f"({mean_late / INTERVAL_REAL_S:.1%} of the interval); dead unit: "
          f"{dead.state.polls} polls, {dead.state.skipped_slots} slots skipped")
    assert mean_late < 0.10 * INTERVAL_REAL_S
    assert all(p.state.failures == 0 for p in live)
    assert dead.state.failures == dead.state.polls >= 2
    assert dead.state.skipped_slots >= 1  # backed off
    assert not [r for r in got if r.device == "inv-05"]
    # 9 live devices answered every slot: the timestamps keep the interval (after the first
    # poll, which may wait out the dead unit's first timeout: it is not known to be dead yet)
    for p in live:
        stamps = [r.ts_ns for r in got if r.device == p.device.id][1:]
        gaps = [(b - a) / 1e9 for a, b in itertools.pairwise(stamps)]
        assert max(abs(g - POLL_S) for g in gaps) < 0.25 * POLL_S, (p.device.id, gaps)
    codes = fleet.function_codes()
    assert not any(codes.get(c) for c in WRITE_CODES), codes
    assert codes.get(3, 0) > 0


async def test_close_after_cycle_reconnects_for_every_poll() -> None:
    cfg = gateway_config(inverters(3), speed=SPEED, gateway={"close_after_cycle": True})
    _, collector, got = await run_until(
        cfg, lambda c: all(p.state.polls >= 3 for p in c.pollers))
    endpoint = collector.pollers[0].endpoint
    assert len(collector.endpoints) == 1
    assert endpoint.connects >= len(got) >= 6
    assert all(p.state.failures == 0 for p in collector.pollers)


async def test_pauses_after_connect_and_between_requests() -> None:
    cfg = gateway_config(inverters(1), speed=SPEED,
                         gateway={"pause_after_connect_s": 0.2,
                                  "pause_between_requests_s": 0.05})
    clock = SimClock.starting(cfg.simulator.start, cfg.simulator.speed)
    async with Fleet(cfg, clock):
        collector = Collector(cfg, _discard, clock)
        poller = collector.pollers[0]
        endpoint: ModbusEndpoint = poller.endpoint
        assert endpoint.options.pause_after_connect_s == 0.2
        reads = len(poller.decoder.reads)
        t = time.perf_counter()
        first = await poller.poll_once()
        with_connect = time.perf_counter() - t
        t = time.perf_counter()
        await poller.poll_once()
        connected = time.perf_counter() - t
        await collector.stop()
    assert first.good("p_ac_w")
    assert with_connect >= 0.2 + 0.05 * (reads - 1)
    assert connected >= 0.05 * reads  # the previous poll's last request counts too
    assert endpoint.connects == 1


async def test_gateway_timeout_defaults_to_the_collector_timeout() -> None:
    cfg = gateway_config(inverters(1), collector={"timeout_s": 1.5}, gateway={"timeout_s": None})
    collector = Collector(cfg, _discard)
    assert collector.pollers[0].endpoint.timeout_s == 1.5
    assert collector.pollers[0].endpoint.label.startswith("gateway gw1")
    await collector.stop()


async def _discard(readings: Sequence[Reading]) -> None:
    return None
