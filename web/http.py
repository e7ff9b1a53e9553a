"""What every request goes through: security headers, the session, CSRF, roles, the language.

- **Headers** on every answer: a strict Content-Security-Policy (only this server's own
  scripts, styles and images; no inline script; no framing), nosniff, no referrer to other
  sites, no caching of pages that hold data, and HSTS when the request came over HTTPS.
- **Session**: the cookie holds a random token (``HttpOnly``, ``SameSite=Strict``, ``Secure``
  unless ``web.secure_cookies`` is false, and then without the ``__Host-`` prefix).
- **CSRF**: every POST carries the session's token in a hidden field (the login form a token
  of its own cookie's), compared in constant time; a POST whose ``Origin`` names another host,
  or that the browser marks cross-site, is refused before that.
- **Roles**: ``need(request, roles)`` answers 303 to the login page without a session, 403
  with one of the wrong role.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, urlsplit

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from web.accounts import Accounts, Role, Session
from web.i18n import Translator, pick

if TYPE_CHECKING:
    from web.site import Site

MAX_FORM_BYTES = 16 * 1024
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
HEADERS = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=(), payment=()",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
}


class SecurityHeaders:
    """Adds the headers above to every answer, and counts answers by status for /metrics."""

    def __init__(self, app: ASGIApp, count: Callable[[int], None]) -> None:
        self.app = app
        self.count = count

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = scope["path"].startswith("/static/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", [])
                           if k.decode().lower() not in HEADERS]
                headers += [(k.encode(), v.encode()) for k, v in HEADERS.items()]
                if not static:
                    headers.append((b"cache-control", b"no-store"))
                if scope.get("scheme") == "https":
                    headers.append((b"strict-transport-security", b"max-age=31536000"))
                message["headers"] = headers
                self.count(int(message["status"]))
            await send(message)

        await self.app(scope, receive, send_with_headers)


def cookie_name(site: Site, base: str) -> str:
    return f"__Host-{base}" if site.settings.secure_cookies else base


def set_cookie(site: Site, response: Response, base: str, value: str,
               max_age: int | None = None) -> None:
    response.set_cookie(cookie_name(site, base), value, max_age=max_age, path="/",
                        secure=site.settings.secure_cookies, httponly=True, samesite="strict")


def translator(request: Request) -> Translator:
    wanted = request.query_params.get("lang") or request.cookies.get("lang")
    return Translator(pick(wanted))


async def current_session(request: Request) -> Session | None:
    site: Site = request.app.state.site
    if "session" not in request.state._state:
        token = request.cookies.get(cookie_name(site, "pvrelief"))
        request.state.session = (await site.state.accounts_do(Accounts.session, token)
                                 if token else None)
    return request.state.session  # type: ignore[no-any-return]


async def need(request: Request, *roles: Role) -> Session:
    """The request's session if its user has one of ``roles`` (admin has all)."""
    session = await current_session(request)
    if session is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise HTTPException(303, headers={"location": f"/login?next={safe_next(target)}"})
    if roles and not session.user.can(*roles):
        raise HTTPException(403)
    return session


def safe_next(target: str | None) -> str:
    """A local path to go to after login; anything else (another host, //x) becomes /."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    parts = urlsplit(target)
    return parts.path + (f"?{parts.query}" if parts.query else "") if not parts.netloc else "/"


def _same_origin(request: Request) -> bool:
    if request.headers.get("sec-fetch-site") == "cross-site":
        return False
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return origin is None  # "null": a sandboxed or file: page, never ours
    return urlsplit(origin).netloc == request.headers.get("host", "")


async def read_form(request: Request, expected_token: str | None) -> dict[str, str]:
    """The POSTed url-encoded form, after the CSRF checks (403 when one fails).

    Parsed here rather than by python-multipart: this page takes no uploads, and a small
    bounded reader refuses an oversized body before reading all of it.
    """
    site: Site = request.app.state.site
    if request.headers.get("content-type", "").split(";")[0].strip() != \
            "application/x-www-form-urlencoded":
        raise HTTPException(415)
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise HTTPException(413)
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False,
                          max_num_fields=50)
    except (UnicodeDecodeError, ValueError):
        raise HTTPException(400) from None
    form = dict(pairs)
    given = form.get("csrf", "")
    if (not _same_origin(request) or not expected_token
            or not hmac.compare_digest(given.encode(), expected_token.encode())):
        site.metrics.inc("csrf_refused")
        raise HTTPException(403, detail="csrf")
    return form


def login_token(request: Request) -> str:
    site: Site = request.app.state.site
    return request.cookies.get(cookie_name(site, "pvrelief-login")) or secrets.token_urlsafe(32)



def redirect(to: str) -> RedirectResponse:
    return RedirectResponse(to, status_code=303)
