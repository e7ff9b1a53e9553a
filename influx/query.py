"""InfluxQL queries with the config's ``influxdb:`` settings (auth, token, v1 or v2's v1 API).

Synchronous on purpose: its users are commands (``pvrelief alarms show``, ``pvrelief kpi``)
that ask a few questions and print the answers. httpx errors are mapped to QueryError here.
"""

from __future__ import annotations

from typing import Any

import httpx

from config.influx import InfluxSettings
from influx.errors import QueryError


def quote(value: str) -> str:
    """An InfluxQL string literal."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


class InfluxReader:
    def __init__(self, settings: InfluxSettings, timeout_s: float = 60.0) -> None:
        self.settings = settings
        self.base = str(settings.url).rstrip("/")
        headers = {}
        if settings.token is not None:
            headers["Authorization"] = f"Token {settings.token.reveal()}"
        auth = None
        if settings.username and settings.password is not None:
            auth = (settings.username, settings.password.reveal())
        self._client = httpx.Client(headers=headers, auth=auth, timeout=timeout_s,
                                    trust_env=False)

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> InfluxReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def query(self, q: str) -> list[dict[str, Any]]:
        """The ``series`` of the first statement (times as epoch nanoseconds)."""
        params = {"db": self.settings.database, "q": q, "epoch": "ns"}
        try:
            r = self._client.get(f"{self.base}/query", params=params)
        except httpx.HTTPError as e:
            raise QueryError(f"InfluxDB at {self.base} unreachable: {e!r}") from e
        if r.status_code != 200:
            raise QueryError(f"InfluxDB at {self.base} answered {r.status_code}: "
                             f"{r.text[:300]}")
        try:
            result = r.json()["results"][0]
        except (ValueError, KeyError, IndexError) as e:
            raise QueryError(f"InfluxDB at {self.base}: not a query answer ({e!r})") from e
        if "error" in result:
            raise QueryError(f"InfluxQL error: {result['error']} (in {q})")
        return list(result.get("series", []))
