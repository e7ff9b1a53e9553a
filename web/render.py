"""Render a template with what every page needs: the user, the language, the CSRF token."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from starlette.requests import Request
from starlette.responses import HTMLResponse

from web.http import translator
from web.revenue_data import fen


def local_time(ns: int | None, tz: str = "Asia/Shanghai", with_date: bool = True) -> str:
    if ns is None:
        return "—"
    t = datetime.fromtimestamp(ns / 1e9, ZoneInfo(tz))
    return t.strftime("%Y-%m-%d %H:%M" if with_date else "%H:%M")


def number(value: float | None, places: int = 1) -> str:
    return "—" if value is None else f"{value:,.{places}f}"


def percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.0f}%"


def page(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    site = request.app.state.site
    t = translator(request)
    session = getattr(request.state, "session", None)
    query = [(k, v) for k, v in request.query_params.multi_items() if k != "lang"]
    other = "en" if t.lang == "zh" else "zh"
    lang_href = "?" + urlencode([*query, ("lang", other)])
    body = site.env.get_template(template).render(
        lang_href=lang_href,
        t=t, lang=t.lang, session=session, user=session.user if session else None,
        csrf=session.csrf if session else "", path=request.url.path,
        fen=fen, local_time=local_time, number=number, percent=percent,
        site_name=site.config.site.name or site.config.site.id, **context)
    response = HTMLResponse(body, status_code=status)
    if request.query_params.get("lang") == t.lang:
        response.set_cookie("lang", t.lang, max_age=365 * 86400, path="/", httponly=True,
                            samesite="lax", secure=site.settings.secure_cookies)
    return response
