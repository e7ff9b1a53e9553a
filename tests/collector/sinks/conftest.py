"""Helpers for the sink tests: wait for a condition with a deadline, read points back."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest

from localsite.servers import InfluxServer
from tests.waiting import wait_until as _wait_until


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
