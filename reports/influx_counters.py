"""Counter values at period boundaries, read from InfluxDB with InfluxQL (the v1 query API,
which InfluxDB 2.x serves too). httpx errors are mapped to ReportError here and nowhere else.
"""

from __future__ import annotations

import httpx

from config.influx import InfluxSettings
from reports.errors import ReportError
from reports.line_loss import Boundary


def _quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


class InfluxCounters:
    def __init__(self, settings: InfluxSettings) -> None:
        self.url = str(settings.url).rstrip("/")
        self.db = settings.database
        headers = {}
        if settings.token is not None:
            headers["Authorization"] = f"Token {settings.token.reveal()}"
        auth = None
        if settings.username and settings.password is not None:
            auth = (settings.username, settings.password.reveal())
        self._client = httpx.Client(headers=headers, auth=auth, timeout=settings.timeout_s,
                                    trust_env=False)

    def close(self) -> None:
        self._client.close()

    def at(self, measurement: str, field: str, plant: str, at_ns: int) -> dict[str, Boundary]:
        q = (f'SELECT last("{field}") FROM "{measurement}" WHERE "plant" = {_quote(plant)} '
             f'AND time <= {at_ns} GROUP BY "device"')
        try:
            r = self._client.get(f"{self.url}/query",
                                 params={"db": self.db, "q": q, "epoch": "ns"})
            r.raise_for_status()
            result = r.json()["results"][0]
        except (httpx.HTTPError, ValueError, KeyError, IndexError) as e:
            raise ReportError(f"plant {plant}: cannot read {measurement}.{field} from "
                              f"{self.url}: {e}") from e
        if "error" in result:
            raise ReportError(f"plant {plant}: InfluxDB error: {result['error']}")
        out: dict[str, Boundary] = {}
        for series in result.get("series", []):
            device = series.get("tags", {}).get("device")
            (ts, value), = series["values"]
            if device is not None and value is not None:
                out[device] = Boundary(float(value), int(ts))
        return out
