"""The web page as a Starlette application: routes, error pages, static files, headers."""

from __future__ import annotations

from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from config.profiles import load_registry
from config.schema import Config
from timebase.clock import Clock
from web import routes_alarms, routes_auth, routes_health, routes_plants, routes_revenue
from web.http import SecurityHeaders, current_session
from web.render import page
from web.site import PACKAGE, Site
from web.state import StateDB


def allocation_facts(allocation: Path | None) -> tuple[dict[str, str], str]:
    """plant id -> its settlement meter, and the time zone, from the allocation inputs (if the
    page has them): loaded once at start, so a broken inputs file is an error at start."""
    if allocation is None:
        return {}, "Asia/Shanghai"
    from allocator.inputs import load_inputs

    inputs = load_inputs(allocation)
    return {pid: p.meter for pid, p in inputs.plants.items() if p.meter}, inputs.timezone


def build_site(config: Config, clock: Clock | None = None) -> Site:
    s = config.web
    state = StateDB(config.state_path, {
        "idle_s": s.session_idle_minutes * 60.0, "max_age_s": s.session_max_hours * 3600.0,
        "failures": s.login_failures, "delay_s": s.login_delay_s})
    meters, timezone = allocation_facts(s.allocation)
    return Site(config, load_registry(), clock or Clock.real(), state, settlement=meters,
                timezone=timezone)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 303 and exc.headers:
        return RedirectResponse(exc.headers["location"], status_code=303)
    if exc.status_code in (403, 404):
        await current_session(request)
        return page(request, "error.html", status=exc.status_code, code=exc.status_code,
                    csrf_failed=exc.detail == "csrf")
    return PlainTextResponse(f"{exc.status_code}\n", status_code=exc.status_code)


def create_app(site: Site) -> Starlette:
    routes = [
        Route("/", routes_auth.home),
        Route("/login", routes_auth.login_form, methods=["GET"]),
        Route("/login", routes_auth.login, methods=["POST"]),
        Route("/logout", routes_auth.logout, methods=["POST"]),
        Route("/alarms", routes_alarms.alarms),
        Route("/alarms/{id}", routes_alarms.alarm),
        Route("/alarms/{id}/ack", routes_alarms.acknowledge, methods=["POST"]),
        Route("/plants", routes_plants.plants),
        Route("/plants/{plant}", routes_plants.plant),
        Route("/revenue", routes_revenue.revenue),
        Route("/revenue/run", routes_revenue.run, methods=["POST"]),
        Route("/revenue/{period}", routes_revenue.period),
        Route("/revenue/{period}/statements/{village}.xlsx", routes_revenue.statement),
        Route("/revenue/{period}/{name}", routes_revenue.download),
        Route("/healthz", routes_health.healthz),
        Route("/metrics", routes_health.metrics),
        Mount("/static", StaticFiles(directory=PACKAGE / "static"), name="static"),
    ]
    app = Starlette(routes=routes, exception_handlers={HTTPException: _http_error})
    app.state.site = site
    app.add_middleware(SecurityHeaders, count=site.metrics.count_status)
    return app
