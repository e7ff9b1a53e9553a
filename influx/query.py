"""InfluxQL reads for the commands that ask a few questions and print the answers.

A thin shape over ``influx.client.InfluxClient`` (auth, token, v1 or v2's v1 API, error
mapping all live there): ``query(q)`` against the configured database.
"""

from __future__ import annotations

from typing import Any, Self

from config.influx import InfluxSettings
from influx.client import InfluxClient
from influx.influxql import quote_literal as quote

__all__ = ["InfluxReader", "quote"]


class InfluxReader:
    def __init__(self, settings: InfluxSettings) -> None:
        self.settings = settings
        self._client = InfluxClient(settings, trust_env=False)
        self.base = self._client.base

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def query(self, q: str) -> list[dict[str, Any]]:
        """The ``series`` of the first statement (times as epoch nanoseconds)."""
        return list(self._client.query(q))
