"""/healthz and /metrics, as the collector serves them.

Both answer only to a client on this machine that did not come through the reverse proxy
(no ``X-Forwarded-For``/``Forwarded`` header): the numbers name plants and the problems name
servers. Through the proxy they are 404, whatever the proxy's configuration says.
"""

from __future__ import annotations

import ipaddress

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from influx.errors import InfluxError


def _local_only(request: Request) -> None:
    forwarded = any(h in request.headers for h in ("x-forwarded-for", "forwarded"))
    peer = request.scope.get("client") or ("", 0)
    try:
        loopback = ipaddress.ip_address(peer[0]).is_loopback
    except ValueError:
        loopback = False
    if forwarded or not loopback:
        raise HTTPException(404)


def _checks(request: Request) -> dict[str, str | None]:
    site = request.app.state.site
    problems: dict[str, str | None] = {"state": None, "influxdb": None}
    try:
        site.state.accounts().conn.execute("SELECT 1 FROM users LIMIT 1").fetchall()  # thread
    except Exception as e:  # any failure of the database is the answer here
        problems["state"] = f"state database: {e}"
    try:
        with site.influx() as client:
            client.query("SHOW MEASUREMENTS LIMIT 1")
    except InfluxError as e:
        problems["influxdb"] = f"influxdb: {e}"
    return problems


async def healthz(request: Request) -> Response:
    _local_only(request)
    problems = await request.app.state.site.state.run(_checks, request)
    bad = [p for p in problems.values() if p]
    return PlainTextResponse("\n".join(bad) + "\n" if bad else "ok\n",
                             status_code=503 if bad else 200)


async def metrics(request: Request) -> Response:
    _local_only(request)
    site = request.app.state.site
    problems = await site.state.run(_checks, request)
    return PlainTextResponse(site.metrics.render({k: v is None for k, v in problems.items()}),
                             media_type="text/plain; version=0.0.4")
