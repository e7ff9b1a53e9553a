"""Night mode: an inverter silent after sunset sleeps quietly and is polled again from dawn."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from collector.night import sun_elevation_deg
from collector.reading import Reading
from collector.runner import Collector
from collector.sinks.base import CallbackSink
from simulator.fleet import Fleet
from tests.simulator.gateway_fleet import bounded, gateway_config, inverters, wait_until
from timebase.clock import Clock

LAT, LON = 36.27, 100.62  # Gonghe
SHANGHAI = ZoneInfo("Asia/Shanghai")


def ns(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=SHANGHAI).timestamp()) * 10**9


def test_sun_elevation_at_gonghe() -> None:
    # solstice: solar noon near 13:17 local, 90 - 36.27 + 23.44 = 77.2 degrees
    assert sun_elevation_deg(LAT, LON, ns("2020-06-21T13:17:00")) == pytest.approx(77.2, abs=0.3)
    assert sun_elevation_deg(LAT, LON, ns("2020-06-21T01:00:00")) < -20
    assert sun_elevation_deg(LAT, LON, ns("2020-12-21T13:17:00")) == pytest.approx(30.3, abs=0.3)


def _quiet(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if r.levelno >= logging.INFO and r.name in (
                "collector.sources.polling", "collector.sources.modbus.endpoint")]


async def test_silent_inverter_at_night_sleeps_meter_does_not(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    cfg = gateway_config(
        [*inverters(1), {"id": "meter", "unit_id": 9, "profile": "sunspec-meter"}],
        start="2020-06-21T23:00:00+08:00", simulator={"inverters_sleep_at_night": True},
        timeout_s=1.0,  # the 07:00 answer must not miss it on a loaded machine
        faults=[{"device": "meter", "kind": "no_answer"}],
        collector={"night_poll_factor": 6})
    clock = Clock.starting(cfg.simulator.start, 1.0)
    fleet = Fleet(cfg, clock)
    collector = Collector(cfg, [CallbackSink(_discard)], clock)
    inv, meter = collector.pollers
    for s in fleet.servers:
        await s.start()
    try:
        fleet.step(clock.sim_start_ns)
        assert await inv.poll_once() == 5  # skip 5 slots: every 6th is polled
        assert inv.state.sleeping and inv.state.failures == 0 and inv.state.night_polls == 1
        assert _quiet(caplog) == []  # debug only: nothing an operator is paged for
        assert await meter.poll_once() == 0  # a meter has no night: it failed
        assert meter.state.failures == 1 and not meter.state.sleeping
        assert any("meter" in m for m in _quiet(caplog))
        # 07:00: the sun is up and the inverter answers again
        fleet.step(clock.sim_start_ns + 8 * 3600 * 10**9)
        inv.clock = Clock(clock.sim_start_ns + 8 * 3600 * 10**9, 1.0, time.time())
        assert await inv.poll_once() == 0
        assert not inv.state.sleeping and inv.state.failures == 0
    finally:
        await bounded(collector.stop(), 20, "collector.stop()")
        for s in fleet.servers:
            await bounded(s.stop(), 10, f"server {s.port} stop()")


async def test_polling_slows_at_night_and_resumes_at_dawn(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    # a timeout far above a loaded machine's worst answer time: after dawn a slow answer must
    # not count as a failure (0.05 s did, now and then, on two busy cores)
    poll_s, factor, speed, timeout_s = 120.0, 10, 600.0, 0.5
    cfg = gateway_config(
        inverters(1, poll_s=poll_s), start="2020-06-21T05:00:00+08:00", speed=speed,
        timeout_s=timeout_s, simulator={"inverters_sleep_at_night": True, "tick_s": 30},
        collector={"night_poll_factor": factor})
    clock = Clock.starting(cfg.simulator.start, cfg.simulator.speed)
    got: list[Reading] = []

    async def deliver(readings: Sequence[Reading]) -> None:
        got.extend(readings)

    async with Fleet(cfg, clock):
        collector = Collector(cfg, [CallbackSink(deliver)], clock)
        await collector.start()
        try:
            await wait_until(lambda: len(got) >= 3, 60, "three readings after dawn")
        finally:
            await bounded(collector.stop(), 20, "collector.stop()")
    st = collector.pollers[0].state
    assert st.night_polls >= 2 and st.failures == 0
    assert st.skipped_slots >= (factor - 1) * (st.night_polls - 1)
    first = got[0].ts_ns
    # polled at full rate from the 3 degree mark: the first reading comes at most a slot after
    # it, or after a night poll's timeout that was still running at the mark, plus a slot
    late_ns = int((2 * poll_s + timeout_s * speed) * 1e9)
    assert sun_elevation_deg(LAT, LON, first - late_ns) < 3.0
    assert _quiet(caplog) == []


async def _discard(readings: Sequence[Reading]) -> None:
    return None
