"""Counter values at period boundaries, read through the one InfluxDB layer (``influx``).

InfluxDB's own errors arrive as ``influx.errors.InfluxError`` and leave here as ReportError
naming the plant and what was read.
"""

from __future__ import annotations

from config.influx import InfluxSettings
from influx import names
from influx.client import InfluxClient
from influx.errors import InfluxError
from influx.influxql import quote_ident, quote_literal
from reports.errors import ReportError
from reports.line_loss import Boundary


class InfluxCounters:
    def __init__(self, settings: InfluxSettings, *, trust_env: bool = True) -> None:
        self._client = InfluxClient(settings, trust_env=trust_env)

    def close(self) -> None:
        self._client.close()

    def at(self, measurement: str, field: str, plant: str, at_ns: int) -> dict[str, Boundary]:
        q = (f"SELECT last({quote_ident(field)}) FROM {quote_ident(measurement)} "
             f"WHERE {quote_ident(names.PLANT)} = {quote_literal(plant)} "
             f"AND time <= {at_ns} GROUP BY {quote_ident(names.DEVICE)}")
        try:
            series = self._client.query(q)
        except InfluxError as e:
            raise ReportError(f"plant {plant}: cannot read {measurement}.{field}: {e}") from e
        out: dict[str, Boundary] = {}
        for s in series:
            device = (s.get("tags") or {}).get(names.DEVICE)
            for ts, value in s.get("values", [])[:1]:
                if device is not None and value is not None:
                    out[device] = Boundary(float(value), int(ts))
        return out
