"""A lean HTTP/1.1 client for the collector's writes, where httpx costs too much.

Through httpx a POST to InfluxDB took 2.1 ms of the collector's CPU (httpcore alone, without
httpx's client, 1.1 ms), the same request written on a socket 0.12 ms: 300 POSTs of one
reading to a local influxd, one after another, as the sink posts once a linger. At a hundred
devices a second that was a twentieth of all the collector did. So ``InfluxWriter`` POSTs with
this; queries, the sync client and a writer behind a proxy keep httpx.

It speaks only what a write needs: requests with a body on keep-alive connections (at most
``max_connections`` at once), answers framed by Content-Length, chunked or the connection's
close, TLS with the trust httpx would use (``SSL_CERT_FILE`` / ``SSL_CERT_DIR``, else certifi's
bundle), and one deadline per request. A request on a kept connection that the server closed
while it was idle is sent once more on a new one: nothing of it was answered, and a write of
the same points stores them once.
"""

from __future__ import annotations

import asyncio
import json
import os
import ssl
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

MAX_HEAD = 64 * 1024  # bytes of status line and headers
MAX_BODY = 16 * 1024 * 1024  # an answer's body: InfluxDB's are a line or two of JSON


class HttpError(Exception):
    """No answer: connecting, sending or reading failed, the deadline passed, or the server
    sent something that is not HTTP/1.1."""


class _Dropped(HttpError):
    """The connection closed before any byte of the answer came."""


@dataclass(frozen=True, slots=True)
class Answer:
    """An answer, with the names ``httpx.Response`` gives them, for one error mapping."""

    status_code: int
    reason_phrase: str
    headers: dict[str, str]  # names in lower case
    content: bytes

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")

    def json(self) -> Any:
        return json.loads(self.content)


class _Connection(asyncio.Protocol):
    """One connection; reads one answer at a time, as its request is sent."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self._buf = bytearray()
        self._waiter: asyncio.Future[tuple[Answer, bool]] | None = None
        self._head: tuple[int, str, dict[str, str]] | None = None
        self._body_len: int | None = None  # None: chunked, or (-1) read to the close

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self._head is not None and self._body_len == -1:  # framed by the close
            self._done(bytes(self._buf), keep=False)
        elif self._waiter is not None and not self._waiter.done():
            kind = _Dropped if self._head is None and not self._buf else HttpError
            self._waiter.set_exception(kind(f"connection closed mid-answer: {exc!r}"))

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    def exchange(self, request: list[bytes]) -> asyncio.Future[tuple[Answer, bool]]:
        """Send ``request``; the future gets the answer and whether the connection may be
        used again."""
        assert self.transport is not None and self._waiter is None
        self._waiter = asyncio.get_running_loop().create_future()
        self._buf.clear()
        self._head, self._body_len = None, 0
        self.transport.writelines(request)
        return self._waiter

    def data_received(self, data: bytes) -> None:
        if self._waiter is None or self._waiter.done():
            self._fail("bytes that answer no request")
            return
        self._buf += data
        try:
            self._parse()
        except (ValueError, IndexError) as e:
            self._fail(f"not an HTTP/1.1 answer: {e}")

    def _parse(self) -> None:
        buf = self._buf
        while self._head is None:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                if len(buf) > MAX_HEAD:
                    raise ValueError(f"no end of headers in {len(buf)} bytes")
                return
            lines = bytes(buf[:end]).decode("latin-1").split("\r\n")
            del buf[:end + 4]
            version, code, *reason = lines[0].split(" ", 2)
            if not version.startswith("HTTP/1."):
                raise ValueError(f"status line {lines[0][:80]!r}")
            status = int(code)
            if 100 <= status < 200:  # interim (100 Continue): the answer follows
                continue
            headers = {}
            for line in lines[1:]:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            self._head = (status, reason[0] if reason else "", headers)
            if status in (204, 304):
                self._body_len = 0
            elif "chunked" in headers.get("transfer-encoding", "").lower():
                self._body_len = None
            elif "content-length" in headers:
                self._body_len = int(headers["content-length"])
                if not 0 <= self._body_len <= MAX_BODY:
                    raise ValueError(f"Content-Length {self._body_len}")
            else:
                self._body_len = -1
        keep = self._head[2].get("connection", "").lower() != "close"
        if self._body_len is None:
            body = _dechunked(buf)
            if body is not None:
                self._done(body, keep)
        elif self._body_len >= 0 and len(buf) >= self._body_len:
            self._done(bytes(buf[:self._body_len]), keep)
        elif len(buf) > MAX_BODY:
            raise ValueError(f"an answer over {MAX_BODY} bytes")

    def _done(self, body: bytes, keep: bool) -> None:
        assert self._head is not None and self._waiter is not None
        status, reason, headers = self._head
        waiter, self._waiter = self._waiter, None
        self._head = None
        if not waiter.done():
            waiter.set_result((Answer(status, reason, headers, body), keep))

    def _fail(self, why: str) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(HttpError(why))
        self.close()


def _dechunked(buf: bytearray) -> bytes | None:
    """The body of a complete chunked answer in ``buf``; None while more is to come."""
    body, pos = bytearray(), 0
    while True:
        eol = buf.find(b"\r\n", pos)
        if eol < 0:
            return None
        size = int(bytes(buf[pos:eol]).split(b";")[0], 16)
        if size == 0:
            return bytes(body) if buf.find(b"\r\n\r\n", eol - 2) >= 0 else None
        if len(body) + size > MAX_BODY:
            raise ValueError(f"a chunked answer over {MAX_BODY} bytes")
        if len(buf) < eol + 2 + size + 2:
            return None
        body += buf[eol + 2: eol + 2 + size]
        pos = eol + 2 + size + 2


def tls_context() -> ssl.SSLContext:
    """The trust httpx gives a client that reads the environment."""
    cafile, capath = os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR")
    if not cafile and not capath:
        import certifi  # httpx's own dependency, and its default bundle

        cafile = certifi.where()
    return ssl.create_default_context(cafile=cafile or None, capath=capath or None)


class Http11Pool:
    """Keep-alive connections to one server; ``post`` one body at a time per connection."""

    def __init__(self, base_url: str, headers: dict[str, str], timeout_s: float,
                 max_connections: int) -> None:
        url = urlsplit(base_url)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise ValueError(f"not an http(s) URL: {base_url}")
        self.host = url.hostname
        self.port = url.port or (443 if url.scheme == "https" else 80)
        self._tls = tls_context() if url.scheme == "https" else None
        host = f"[{self.host}]" if ":" in self.host else self.host
        if url.port is not None:
            host += f":{url.port}"
        fixed = {"Host": host, **headers}
        for name, value in fixed.items():
            if "\r" in value or "\n" in value or "\r" in name or "\n" in name:
                raise ValueError(f"header {name!r} holds a line break")
        self._fixed = "".join(f"{k}: {v}\r\n" for k, v in fixed.items())
        self.timeout_s = timeout_s
        self._slots = asyncio.Semaphore(max_connections)
        self._idle: list[_Connection] = []

    async def post(self, target: str, body: bytes) -> Answer:
        """POST ``body`` to ``target`` (path and query); HttpError when no answer came."""
        head = (f"POST {target} HTTP/1.1\r\n{self._fixed}"
                f"Content-Length: {len(body)}\r\n\r\n").encode("latin-1")
        async with self._slots:
            conn: _Connection | None = None
            try:
                async with asyncio.timeout(self.timeout_s):
                    while True:
                        conn, kept = (self._idle.pop(), True) if self._idle else (None, False)
                        if conn is None or conn.closed:
                            conn, kept = await self._connect(), False
                        try:
                            answer, reuse = await conn.exchange([head, body])
                        except _Dropped:
                            if kept:  # closed by the server while idle: once more, anew
                                continue
                            raise
                        if reuse and not conn.closed:
                            self._idle.append(conn)
                        else:
                            conn.close()
                        return answer
            except BaseException as e:  # cancelled too: a connection mid-answer is no use
                if conn is not None:
                    conn.close()
                if isinstance(e, TimeoutError):
                    raise HttpError(f"no answer within {self.timeout_s:g} s") from e
                if isinstance(e, OSError):
                    raise HttpError(repr(e)) from e
                raise

    async def _connect(self) -> _Connection:
        loop = asyncio.get_running_loop()
        _, conn = await loop.create_connection(
            _Connection, self.host, self.port, ssl=self._tls,
            server_hostname=self.host if self._tls else None)
        return conn

    async def aclose(self) -> None:
        while self._idle:
            self._idle.pop().close()
