"""The collector's async writer does no import work per request.

Its writes go through ``influx.http11``; its other requests (CREATE DATABASE), and its writes
behind a proxy, through httpx. httpcore asks for ``sniffio`` each time it sets up a
connection-pool lock (four times a request) and, when it is not installed, Python searched
every folder of ``sys.path`` for it each time: about a quarter of a POST's CPU (3.0 against
2.3 ms for 100 SUN2000 readings on the development machine). ``sniffio`` is a dependency for
that; this keeps it so.
"""

from __future__ import annotations

import importlib.abc
import sys
from collections.abc import Sequence
from types import ModuleType

import pytest

from config.influx import InfluxSettings
from influx.client import InfluxWriter
from localsite.servers import InfluxServer


class _Counting(importlib.abc.MetaPathFinder):
    def __init__(self) -> None:
        self.asked: list[str] = []

    def find_spec(self, name: str, path: Sequence[str] | None,
                  target: ModuleType | None = None) -> None:
        self.asked.append(name)
        return None  # the real finders after it do the work


@pytest.mark.parametrize("through", ["http11", "httpx"])
async def test_requests_after_the_first_look_up_no_module(influxdb: InfluxServer,
                                                          influx_db: str, through: str) -> None:
    writer = InfluxWriter(InfluxSettings(url=influxdb.url, database=influx_db))

    async def request(i: int) -> None:
        if through == "http11":
            assert await writer.write(f"m v={i} {i}\n".encode(), "ns") == []
        else:
            assert await writer.create_database()

    try:
        await request(1)  # the first may import lazily
        counting = _Counting()
        sys.meta_path.insert(0, counting)
        try:
            for i in range(2, 6):
                await request(i)
        finally:
            sys.meta_path.remove(counting)
        assert counting.asked == []
    finally:
        await writer.aclose()
