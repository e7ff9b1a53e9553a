"""Helpers for the sink tests: wait for a condition with a deadline, read points back."""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

# `.venv/bin/pytest` puts tests/ first on sys.path, where tests/collector would shadow the real
# `collector` package as a namespace package. Project-level fix: pythonpath = ["."] in pyproject.
ROOT = str(Path(__file__).resolve().parents[3])
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from localsite.servers import InfluxServer  # noqa: E402


async def _wait_until(cond: Callable[[], bool | Awaitable[bool]], timeout: float = 30.0,
                      what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while True:
        result = cond()
        if not isinstance(result, bool):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        await asyncio.sleep(0.05)


@pytest.fixture
def wait_until() -> Callable[..., Awaitable[None]]:
    return _wait_until


def points(server: InfluxServer, db: str, measurement: str = "inverter") -> list[tuple[str, int]]:
    """Every (device, time_ns) stored, duplicates kept if the server ever returned any."""
    series = server.query(f'SELECT "device", "p_ac_w" FROM "{measurement}"', db)
    return [(row[1], row[0]) for s in series for row in s["values"]]


@pytest.fixture
def read_points() -> Callable[..., list[tuple[str, int]]]:
    return points
