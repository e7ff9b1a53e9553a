"""HTTP access to InfluxDB: the only module that talks httpx and maps its errors.

Both clients are built from one ``InfluxSettings`` (the config's ``influxdb:`` section):

- ``InfluxClient`` (sync): InfluxQL queries, writes and CREATE DATABASE, for the allocator, the
  local servers' helpers and the tests;
- ``InfluxWriter`` (async): the collector's sink; ``write`` isolates the lines a 400 is about.
  Its POSTs go through ``influx.http11`` (a lean HTTP/1.1 client, several times cheaper per
  POST than httpx: ``bench/http_post.py``), unless the environment names a proxy for the server.

What is sent where:

| | api: v1 (1.x; 2.x/3.x v1 compatibility) | api: v2 (2.x, 3.x) |
|---|---|---|
| write | ``POST /write?db=&precision=`` | ``POST /api/v2/write?org=&bucket=&precision=`` |
| query | ``GET /query?db=<database>&q=`` | ``GET /query?db=<bucket>&q=`` (InfluxQL) |
| auth | basic (username, password) or ``Token`` | ``Authorization: Token ...`` |

Queries always use InfluxQL on the v1-compatible ``/query``: 1.x has nothing else, and 2.x and
3.x accept it with the token (on 2.x the bucket needs a DBRP mapping, which writes through
``/write`` create and ``influx v1 dbrp create`` adds for other buckets). Statements that change
something (CREATE DATABASE) are POSTed with ``q`` in the form body. Secrets travel only in
headers, never in a URL, so no log line of httpx's and no error message here can show them.

Errors (influx/errors.py): Unavailable (retry later), Rejected (400/413 about the lines),
AuthError (401/403), TargetMissing (404, "database not found"), Refused (400 about the request,
an InfluxQL error). InfluxDB 1.x writes the good lines of a batch and answers ``400 partial
write: ... dropped=N`` without saying which lines were bad (for a field type conflict), so
``InfluxWriter.write`` isolates them by re-posting halves. Re-posting good lines is harmless: a
point with the same measurement, tag set and timestamp overwrites itself.
"""

from __future__ import annotations

import base64
import gzip
import json
import logging
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

import httpx

from config.influx import InfluxSettings
from influx.errors import (
    AuthError,
    InfluxError,
    Refused,
    Rejected,
    TargetMissing,
    Unavailable,
)
from influx.http11 import Answer, Http11Pool, HttpError
from influx.influxql import quote_ident, redact

log = logging.getLogger(__name__)

Series = dict[str, Any]  # {"name", "columns", "values", "tags"?}: one series of a result
WRITE_BATCH = 5_000  # lines per POST for InfluxClient.write_lines
_V2_PRECISION = {"ns": "ns", "u": "us", "ms": "ms", "s": "s"}  # /api/v2 spells micro "us"


@dataclass(frozen=True, slots=True)
class BadLine:
    line: bytes
    reason: str


@dataclass(frozen=True, slots=True)
class _Endpoints:
    """Everything both clients derive from the settings; built in one place."""

    base: str  # the URL as shown in messages (it never holds credentials)
    write_url: str
    write_params: dict[str, str]
    query_db: str
    headers: dict[str, str]  # on every request: auth only
    write_headers: dict[str, str]  # on writes: the body's type and encoding
    auth: tuple[str, str] | None
    timeout: float


def _endpoints(settings: InfluxSettings) -> _Endpoints:
    url = httpx.URL(str(settings.url))
    # the settings refuse credentials in the URL; dropping them here too keeps messages clean
    # even for settings built without validation
    base = str(url.copy_with(username=None, password=None, query=None, fragment=None))
    base = base.rstrip("/")
    headers = {}
    if settings.token is not None:
        headers["Authorization"] = f"Token {settings.token.reveal()}"
    write_headers = {"Content-Type": "text/plain; charset=utf-8"}
    if settings.gzip:
        write_headers["Content-Encoding"] = "gzip"
    auth = None
    if settings.username is not None and settings.password is not None:
        auth = (settings.username, settings.password.reveal())
    bucket = settings.bucket or settings.database
    if settings.api == "v2":
        return _Endpoints(base, f"{base}/api/v2/write", {"org": settings.org or "",
                                                          "bucket": bucket}, bucket,
                          headers, write_headers, auth, settings.timeout_s)
    return _Endpoints(base, f"{base}/write", {"db": settings.database}, settings.database,
                      headers, write_headers, auth, settings.timeout_s)


def _precision(settings: InfluxSettings, precision: str) -> str:
    return _V2_PRECISION[precision] if settings.api == "v2" else precision


# ---- mapping: the only place httpx exceptions and HTTP answers become errors ----------------
def _unreachable(base: str, e: httpx.HTTPError | HttpError) -> Unavailable:
    # connect, read, timeout, protocol: all "try later"; the repr names the kind of failure
    return Unavailable(f"InfluxDB at {base} unreachable: {e!r}")


def _answer_error(base: str, r: httpx.Response | Answer) -> InfluxError | None:
    """None for a 2xx answer, else the error that says what the caller can do."""
    code = r.status_code
    if 200 <= code < 300:
        return None
    reason = _reason(r)
    if code in (401, 403):
        return AuthError(f"InfluxDB at {base} refused the credentials ({code}): {reason}")
    if code == 404:
        return TargetMissing(f"InfluxDB at {base}: {reason} (404)")
    if code == 413 or (code in (400, 422) and is_about_lines(reason)):
        return Rejected(reason)  # the writer bisects: halves re-posted, bad lines quarantined
    if code in (400, 422):
        # about the request itself (a setting): quarantining every line would empty the
        # spool into the quarantine file, so keep the data and say so loudly instead
        return Refused(f"InfluxDB at {base} refused the request ({code}): {reason}")
    retry_after = None
    if code in (429, 503):
        try:
            retry_after = float(r.headers.get("retry-after", ""))
        except ValueError:
            retry_after = None
    return Unavailable(f"InfluxDB at {base} answered {code}: {reason}", retry_after)


def _series(base: str, r: httpx.Response, q: str) -> list[Series]:
    """The first statement's series of a /query answer; a statement error raises."""
    error = _answer_error(base, r)
    if error is not None:
        raise error
    try:
        result = r.json()["results"][0]
        series = list(result.get("series", []))
    except (ValueError, KeyError, IndexError, TypeError, AttributeError) as e:
        raise Unavailable(f"InfluxDB at {base} answered something that is not InfluxDB's "
                          f"JSON (query: {q})") from e
    err = result.get("error")
    if err:
        text = f"InfluxDB at {base}: {err} (query: {q})"
        low = str(err).lower()
        if "database not found" in low:
            raise TargetMissing(text)
        if "authoriz" in low:
            raise AuthError(text)
        raise Refused(text)
    return series


# How InfluxDB 1.x and 2.x word a 400 caused by the lines themselves (parse errors, type
# conflicts, retention); anything else (e.g. "invalid consistency level") is about the request.
LINE_LEVEL_REASONS = (
    "partial write", "unable to parse", "failed to parse", "field type conflict",
    "beyond retention policy", "invalid field", "invalid number", "invalid boolean",
    "bad timestamp", "missing field", "missing tag", "max-values-per-tag",
)


def is_about_lines(reason: str) -> bool:
    low = reason.lower()
    return any(p in low for p in LINE_LEVEL_REASONS)


def _reason(r: httpx.Response | Answer) -> str:
    try:
        err = r.json().get("error") or r.json().get("message")
        if err:
            return str(err)
    except (json.JSONDecodeError, AttributeError, ValueError):
        pass
    return r.text[:500] or r.reason_phrase


# ---- sync ------------------------------------------------------------------------------------
class InfluxClient:
    """Queries, writes and CREATE DATABASE; ``with InfluxClient(settings) as c: ...``.

    ``trust_env=False`` ignores proxy settings from the environment (for loopback servers).
    """

    def __init__(self, settings: InfluxSettings, *, trust_env: bool = True) -> None:
        self.settings = settings
        self._ep = _endpoints(settings)
        self._client = httpx.Client(headers=self._ep.headers, auth=self._ep.auth,
                                    timeout=self._ep.timeout, trust_env=trust_env)

    @property
    def base(self) -> str:
        """The server's URL, as messages show it."""
        return self._ep.base

    @property
    def query_db(self) -> str:
        """What queries read by default: the database (api v1) or the bucket (api v2)."""
        return self._ep.query_db

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, et: type[BaseException] | None, e: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def query(self, q: str, db: str | None = None) -> list[Series]:
        """A read-only InfluxQL query (GET) on ``db`` (None: the settings' database or bucket;
        "": none, for server-wide statements); the first statement's series, timestamps in
        epoch nanoseconds."""
        params = {"q": q, "epoch": "ns"}
        db = self._ep.query_db if db is None else db
        if db:
            params["db"] = db
        return _series(self.base, self._request("GET", "/query", params=params), q)

    def execute(self, statement: str, db: str | None = None) -> list[Series]:
        """A statement that changes something (POST, ``q`` in the form body); no database
        unless ``db`` is given (CREATE/DROP DATABASE, CREATE USER are server-wide)."""
        params = {"epoch": "ns"} | ({"db": db} if db else {})
        r = self._request("POST", "/query", params=params, data={"q": statement})
        return _series(self.base, r, redact(statement))

    def create_database(self, name: str | None = None) -> None:
        """CREATE DATABASE (1.x; idempotent); ``name`` defaults to the settings' database."""
        self.execute(f"CREATE DATABASE {quote_ident(name or self.settings.database)}")

    def write(self, body: bytes, precision: str = "ns") -> None:
        """POST one ``/write`` body; every line is stored or an InfluxError says why not."""
        if not body:
            return
        if self.settings.gzip:
            body = gzip.compress(body, compresslevel=1)
        params = {**self._ep.write_params, "precision": _precision(self.settings, precision)}
        r = self._request("POST", self._ep.write_url, params=params, content=body,
                          headers=self._ep.write_headers)
        error = _answer_error(self.base, r)
        if error is not None:
            raise error

    def write_lines(self, lines: Sequence[str], precision: str = "ns",
                    batch: int = WRITE_BATCH) -> int:
        """Write ``lines`` in POSTs of ``batch``; returns how many were written."""
        for i in range(0, len(lines), batch):
            self.write(("\n".join(lines[i: i + batch]) + "\n").encode(), precision)
        return len(lines)

    def _request(self, method: str, path: str, **kw: Any) -> httpx.Response:
        url = path if path.startswith(("http://", "https://")) else self.base + path
        try:
            return self._client.request(method, url, **kw)
        except httpx.HTTPError as e:
            raise _unreachable(self.base, e) from e


# ---- async (the collector's sink) ----------------------------------------------------------
def _proxied(base: str) -> bool:
    """Whether httpx, reading the environment, would reach ``base`` through a proxy."""
    url = httpx.URL(base)
    proxies = urllib.request.getproxies()
    return bool(proxies.get(url.scheme) or proxies.get("all")) and not \
        urllib.request.proxy_bypass(url.host)


def _basic(auth: tuple[str, str] | None) -> dict[str, str]:
    if auth is None:
        return {}
    pair = f"{auth[0]}:{auth[1]}".encode()
    return {"Authorization": "Basic " + base64.b64encode(pair).decode("ascii")}


def _target(url: str, params: dict[str, str]) -> str:
    """The path and query of a write, as httpx would have sent them."""
    u = httpx.URL(url, params=params)
    return u.raw_path.decode("ascii")


class InfluxWriter:
    def __init__(self, settings: InfluxSettings) -> None:
        self.settings = settings
        ep = self._ep = _endpoints(settings)
        self.base = ep.base
        self.url = ep.write_url
        self._params = dict(ep.write_params)  # a test adds a bad one to provoke a 400
        limits = httpx.Limits(max_connections=settings.max_inflight + 1)
        self._client = httpx.AsyncClient(headers=ep.headers, auth=ep.auth, limits=limits,
                                         timeout=ep.timeout)
        self._lean = None if _proxied(ep.base) else Http11Pool(
            ep.base, {**ep.headers, **_basic(ep.auth), **ep.write_headers}, ep.timeout,
            settings.max_inflight + 1)
        self._targets: dict[tuple[str, ...], str] = {}  # the write's path and query

    async def aclose(self) -> None:
        await self._client.aclose()
        if self._lean is not None:
            await self._lean.aclose()

    async def create_database(self) -> bool:
        """CREATE DATABASE on a 1.x server; False when it could not be done now."""
        if self.settings.api != "v1":
            return False
        q = f"CREATE DATABASE {quote_ident(self.settings.database)}"
        try:
            r = await self._client.post(f"{self.base}/query", data={"q": q})
        except httpx.HTTPError:
            return False
        try:
            _series(self.base, r, q)
        except InfluxError as e:
            if not isinstance(e, Unavailable):
                log.error("CREATE DATABASE %r failed: %s", self.settings.database, e)
            return False
        return True

    async def post(self, body: bytes, precision: str) -> None:
        if not body:
            return
        if self.settings.gzip:
            body = gzip.compress(body, compresslevel=1)
        r: httpx.Response | Answer
        try:
            if self._lean is not None:
                key = (precision, *self._params.items())
                target = self._targets.get(key)
                if target is None:
                    target = self._targets[key] = _target(self.url, self._write_params(precision))
                r = await self._lean.post(target, body)
            else:
                r = await self._client.post(self.url, params=self._write_params(precision),
                                            content=body, headers=self._ep.write_headers)
        except (HttpError, httpx.HTTPError) as e:
            raise _unreachable(self.base, e) from e
        error = _answer_error(self.base, r)
        if error is not None:
            raise error

    def _write_params(self, precision: str) -> dict[str, str]:
        return {**self._params, "precision": _precision(self.settings, precision)}

    async def write(self, body: bytes, precision: str) -> list[BadLine]:
        """POST ``body``; return the lines InfluxDB refused (all others are stored).

        Raises Unavailable/AuthError/TargetMissing/Refused: then retry the whole body.
        """
        try:
            await self.post(body, precision)
            return []
        except Rejected as e:
            lines = [ln for ln in body.split(b"\n") if ln]
            log.warning("InfluxDB refused part of a batch of %d lines: %s", len(lines), e.reason)
            return await self._isolate(lines, precision, e.reason)

    async def _isolate(self, lines: list[bytes], precision: str, reason: str) -> list[BadLine]:
        if len(lines) == 1:
            return [BadLine(lines[0], reason)]
        mid = len(lines) // 2
        bad: list[BadLine] = []
        for half in (lines[:mid], lines[mid:]):
            try:
                await self.post(b"\n".join(half) + b"\n", precision)
            except Rejected as e:
                bad += await self._isolate(half, precision, e.reason)
        return bad
