"""Configs for tests: one plant whose devices sit behind one gateway on a free port."""

from __future__ import annotations

import asyncio
import contextlib
import io
import statistics
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

from collector.runner import Collector
from config.schema import Config
from localsite.servers import free_port
from simulator.fleet import Fleet
from timebase.clock import Clock

T = TypeVar("T")

START = "2020-06-21T11:00:00+08:00"  # late morning on the solstice in Gonghe: all running


def gateway_config(devices: list[dict[str, Any]], *, faults: list[dict[str, Any]] | None = None,
                   speed: float = 60.0, start: str = START, timeout_s: float = 1.0,
                   gateway: dict[str, Any] | None = None, collector: dict[str, Any] | None = None,
                   simulator: dict[str, Any] | None = None, influx: dict[str, Any] | None = None,
                   capacity_kw_ac: float = 500.0) -> Config:
    data: dict[str, Any] = {
        "site": {"id": "test"},
        "collector": {"timeout_s": 1.0, **(collector or {})},
        "simulator": {"start": start, "speed": speed, "seed": 3, "tick_s": 10,
                      "faults": faults or [], **(simulator or {})},
        "counties": [{"id": "gonghe", "plants": [{
            "id": "p1", "capacity_kwp_dc": capacity_kw_ac * 1.2,
            "capacity_kw_ac": capacity_kw_ac, "latitude": 36.27, "longitude": 100.62,
            "altitude_m": 2800,
            "gateways": [{"id": "gw1", "port": free_port(), "timeout_s": timeout_s,
                          **(gateway or {}), "devices": devices}],
        }]}],
    }
    if influx:
        data["influxdb"] = influx
    return Config.model_validate(data)


def inverters(n: int, profile: str = "sunspec-inverter", poll_s: float = 60.0,
              first_unit: int = 1, prefix: str = "inv") -> list[dict[str, Any]]:
    return [{"id": f"{prefix}-{i + 1:02d}", "unit_id": first_unit + i, "profile": profile,
             "poll_interval_s": poll_s} for i in range(n)]


async def wait_until(predicate: Callable[[], bool], timeout: float, what: str = "") -> None:
    """Poll ``predicate`` until true; fail with ``what`` at the deadline (never a bare sleep)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"not met within {timeout:g} s: {what}")
        await asyncio.sleep(0.02)


async def bounded(aw: Awaitable[T], timeout: float, what: str) -> T:
    """Await ``aw`` for at most ``timeout`` s; on timeout fail with every task's stack.

    A hung stop must fail the test in seconds and say where it hangs, not eat pytest-timeout.
    """
    try:
        return await asyncio.wait_for(aw, timeout)
    except TimeoutError:
        out = io.StringIO()
        for task in asyncio.all_tasks():
            task.print_stack(limit=8, file=out)
        raise AssertionError(f"{what}: not done within {timeout:g} s; tasks:\n"
                             f"{out.getvalue()}") from None


class Lateness:
    """Each good poll's lateness (real s from due to holding the connection) and its instant.

    Pass it as the collector's ``on_poll`` hook, then ``attach`` the collector.
    """

    def __init__(self) -> None:
        self.rows: list[tuple[str, int, float]] = []  # device, reading ts_ns, lateness
        self._state: dict[str, Any] = {}

    def attach(self, collector: Collector) -> None:
        self._state = {p.device.id: p.state for p in collector.pollers}

    def __call__(self, device: str, ok: bool, latency_s: float, ts_ns: int | None) -> None:
        if ok and ts_ns is not None:
            self.rows.append((device, ts_ns, self._state[device].late_s[-1]))

    def mean(self, devices: set[str], from_ns: int, until_ns: int | None = None) -> float:
        late = [s for d, t, s in self.rows
                if d in devices and t >= from_ns and (until_ns is None or t < until_ns)]
        assert len(late) >= 5 * len(devices), (len(late), len(devices))
        return statistics.fmean(late)


@contextlib.asynccontextmanager
async def served_fleet(cfg: Config) -> AsyncIterator[Fleet]:
    """The fleet's Modbus servers, its physics stepped once to the configured start and then
    held there: a client reads registers that do not move under it."""
    fleet = Fleet(cfg, Clock.starting(cfg.simulator.start, 1.0))
    fleet.step(fleet.clock.sim_start_ns)
    for s in fleet.servers:
        await s.start()
    try:
        yield fleet
    finally:
        for s in fleet.servers:
            await bounded(s.stop(), 10, f"server {s.port} stop()")
