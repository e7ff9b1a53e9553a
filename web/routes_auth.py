"""Logging in and out. The login form has a CSRF token of its own (a cookie and a hidden
field that must match) because there is no session yet to hold one."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from web.accounts import Accounts
from web.errors import LoginRefused, LoginThrottled
from web.http import (
    cookie_name,
    current_session,
    login_token,
    need,
    read_form,
    redirect,
    safe_next,
    set_cookie,
    translator,
)
from web.render import page


def home_for(role: str) -> str:
    return {"technician": "/alarms", "finance": "/revenue"}.get(role, "/plants")


async def home(request: Request) -> Response:
    session = await need(request)
    return redirect(home_for(session.user.role))


def _login_page(request: Request, error: str = "", status: int = 200,
                retry_after: float | None = None) -> Response:
    token = login_token(request)
    response = page(request, "login.html", status=status, login_csrf=token, error=error,
                    next=safe_next(request.query_params.get("next")))
    set_cookie(request.app.state.site, response, "pvrelief-login", token)
    if retry_after is not None:
        response.headers["retry-after"] = str(int(retry_after + 0.999))
    return response


async def login_form(request: Request) -> Response:
    if await current_session(request) is not None:
        return redirect(safe_next(request.query_params.get("next")))
    return _login_page(request)


async def login(request: Request) -> Response:
    site = request.app.state.site
    expected = request.cookies.get(cookie_name(site, "pvrelief-login"))
    form = await read_form(request, expected)
    t = translator(request)
    address = request.client.host if request.client else "?"
    try:
        session = await site.state.accounts_do(Accounts.login, form.get("name", "")[:64],
                                               form.get("password", ""), address)
    except LoginThrottled as e:
        site.metrics.inc("login_throttled")
        return _login_page(request, t("login.throttled", seconds=int(e.retry_after_s + 0.999)),
                           429, e.retry_after_s)
    except LoginRefused:
        site.metrics.inc("login_failures")
        return _login_page(request, t("login.refused"), 401)
    site.metrics.inc("logins")
    target = safe_next(form.get("next"))
    response = redirect(target if target != "/" else home_for(session.user.role))
    set_cookie(site, response, "pvrelief", session.token)
    response.delete_cookie(cookie_name(site, "pvrelief-login"), path="/",
                           secure=site.settings.secure_cookies, httponly=True,
                           samesite="strict")
    return response


async def logout(request: Request) -> Response:
    site = request.app.state.site
    session = await need(request)
    await read_form(request, session.csrf)
    await site.state.accounts_do(Accounts.logout, session.token)
    response = redirect("/login")
    response.delete_cookie(cookie_name(site, "pvrelief"), path="/",
                           secure=site.settings.secure_cookies, httponly=True,
                           samesite="strict")
    return response
