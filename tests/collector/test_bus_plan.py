"""Polls behind an RS485 gateway are planned against the bus: spread along the interval,
warned about and stretched alike when they cannot fit, and the bus's utilisation reported."""

from __future__ import annotations

import itertools
import logging
from collections.abc import Sequence

import pytest

from collector.metrics import Metrics
from collector.reading import Reading
from collector.runner import Collector
from collector.sinks.base import CallbackSink
from config.serial_bus import SerialBus
from simulator.fleet import Fleet
from tests.simulator.gateway_fleet import bounded, gateway_config, inverters, wait_until
from timebase.clock import Clock

BUS = {"baud": 9600, "framing": "8N1", "turnaround_s": 0.01}


def test_a_bus_char_and_a_sun2000_poll_on_the_wire() -> None:
    assert SerialBus(baud=9600).char_s == pytest.approx(10 / 9600)
    assert SerialBus(baud=9600, framing="8E1").char_s == pytest.approx(11 / 9600)
    assert SerialBus(baud=115200).silence_s == pytest.approx(0.00175)
    # a 120-register read at 9600 8N1: about 0.29 s, as the issue says
    assert SerialBus(baud=9600, turnaround_s=0.0).read_s(120) == pytest.approx(0.28, abs=0.01)


def test_30_inverters_fit_every_10_s_but_not_40(caplog: pytest.LogCaptureFixture) -> None:
    # the example: 40 inverters at 9600 baud every 10 s cannot fit
    caplog.set_level(logging.INFO)
    fits = Collector(gateway_config(inverters(30, "huawei-sun2000", poll_s=10.0),
                                    gateway={"serial": BUS}), [])
    [plan] = fits.bus_plans
    assert 0.8 < plan.demand < 1.0 and plan.stretch == 1.0
    assert all(p.interval_s == 10.0 for p in fits.pollers)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]

    over = Collector(gateway_config(inverters(40, "huawei-sun2000", poll_s=10.0),
                                    gateway={"serial": BUS}), [])
    [plan] = over.bus_plans
    assert plan.demand > 1.1 and plan.planned_utilisation == pytest.approx(0.95)
    warning = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warning) == 1 and "cannot fit" in warning[0] and "gw1" in warning[0]
    # stretched alike (nobody starves), slots back to back along the new interval
    intervals = {p.interval_s for p in over.pollers}
    assert len(intervals) == 1 and intervals.pop() == pytest.approx(10.0 * plan.stretch)
    offsets = [p.offset_ns for p in over.pollers]
    assert offsets == sorted(offsets) and len(set(offsets)) == 40
    gaps = {round((b - a) / 1e9, 4) for a, b in itertools.pairwise(offsets)}
    # one SUN2000 poll on the wire: reads of 64 and 44 registers, each 8 + 5 + 2n bytes of 10
    # bits at 9600 baud, two 3.5-character silences and a 10 ms turnaround:
    # (141 + 101) / 960 + 4 * 3.5 / 960 + 0.02 = 0.2867 s
    assert gaps == {0.2867}


async def test_an_overloaded_bus_polls_every_device_and_reports_its_use() -> None:
    # 6 SUN2000 every simulated minute at 60x: 1.7 s of bus per real second asked
    cfg = gateway_config(inverters(6, "huawei-sun2000", poll_s=60.0), speed=60.0,
                         gateway={"serial": BUS, "timeout_s": 3.0},
                         simulator={"modbus_server": "lean"})
    clock = Clock.starting(cfg.simulator.start, cfg.simulator.speed)
    got: list[Reading] = []

    async def keep(readings: Sequence[Reading]) -> None:
        got.extend(readings)

    metrics = Metrics()
    collector = Collector(cfg, [CallbackSink(keep)], clock, metrics=metrics)
    async with Fleet(cfg, clock) as fleet:
        await collector.start()
        try:
            await wait_until(lambda: all(p.state.polls >= 3 for p in collector.pollers), 30,
                             "three polls of every device")
        finally:
            await bounded(collector.stop(), 20, "collector.stop()")
        bus_busy = fleet.servers[0].bus_busy_s
    assert all(p.state.failures == 0 for p in collector.pollers)
    per_device = [sum(r.device == p.device.id for r in got) for p in collector.pollers]
    assert max(per_device) - min(per_device) <= 1, per_device  # nobody starved
    text = metrics.render()
    [plan] = collector.bus_plans
    assert plan.demand > 1.5  # 6 x 0.287 s of bus asked every simulated second
    assert f'pvrelief_bus_planned_utilisation{{gateway="gw1"}} {plan.demand!r}' in text
    busy = float(text.split('pvrelief_bus_busy_seconds_total{gateway="gw1"} ')[1].split()[0])
    assert busy >= bus_busy * 0.9  # what the collector waited for includes the bus time
