"""The Revenue page: computed periods, their plant and village tables, downloads, new runs.

Finance and admin only; a technician gets 403 on every URL under /revenue.
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, Response

from allocator.errors import AllocatorError
from config.errors import ConfigError
from influx.errors import InfluxError
from web.errors import NotFound
from web.http import need, read_form, redirect, translator
from web.render import page
from web.revenue_data import download_path, list_periods, read_period, run_period, statement_path

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


async def revenue(request: Request) -> Response:
    await need(request, "finance")
    site = request.app.state.site
    periods = await site.state.run(list_periods, site.revenue_dir)
    return page(request, "revenue.html", periods=periods,
                can_run=site.settings.allocation is not None,
                message=request.query_params.get("done", ""), error="")


async def period(request: Request) -> Response:
    await need(request, "finance")
    site = request.app.state.site
    try:
        detail = await site.state.run(read_period, site.revenue_dir,
                                      request.path_params["period"])
    except NotFound:
        raise HTTPException(404) from None
    return page(request, "period.html", d=detail)


async def download(request: Request) -> Response:
    await need(request, "finance")
    site = request.app.state.site
    label, name = request.path_params["period"], request.path_params["name"]
    try:
        path = download_path(site.revenue_dir, label, name)
    except NotFound:
        raise HTTPException(404) from None
    return FileResponse(path, media_type="text/csv; charset=utf-8",
                        filename=f"{label}-{name}")


async def statement(request: Request) -> Response:
    await need(request, "finance")
    site = request.app.state.site
    label, village = request.path_params["period"], request.path_params["village"]
    try:
        path = statement_path(site.revenue_dir, label, village)
    except NotFound:
        raise HTTPException(404) from None
    return FileResponse(path, media_type=XLSX, filename=f"{label}-{path.name}")


async def run(request: Request) -> Response:
    session = await need(request, "finance")
    site = request.app.state.site
    form = await read_form(request, session.csrf)
    t = translator(request)
    text = form.get("period", "").strip()[:20]
    if site.settings.allocation is None:
        raise HTTPException(409)
    try:
        done = await site.state.run(run_period, site.settings.allocation, site.revenue_dir,
                                    text, site.config.influxdb, site.today(),
                                    form.get("provisional") == "1")
    except (AllocatorError, ConfigError, InfluxError, OSError) as e:
        site.metrics.inc("allocation_failures")
        periods = await site.state.run(list_periods, site.revenue_dir)
        return page(request, "revenue.html", status=422, periods=periods,
                    can_run=True, message="", error=t("revenue.run_failed", error=str(e)),
                    period_text=text)
    site.metrics.inc("allocations")
    return redirect(f"/revenue/{done.label}")
