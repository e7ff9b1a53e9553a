"""Configs for tests: one plant whose devices sit behind one gateway on a free port."""

from __future__ import annotations

import asyncio
import contextlib
import io
from collections.abc import AsyncIterator, Awaitable
from typing import Any, TypeVar

from config.schema import Config
from localsite.servers import free_port
from simulator.fleet import Fleet
from tests.waiting import wait_until
from timebase.clock import Clock

__all__ = ["bounded", "gateway_config", "inverters", "served_fleet", "wait_until"]

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
