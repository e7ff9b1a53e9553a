"""A notification receiver for tests: a small HTTP/1.1 server on 127.0.0.1 (asyncio only).

It answers like a robot (``{"errcode": 0, "errmsg": "ok"}``) or a plain webhook, can be slow
(``delay_s``), can refuse (``errcode``), and can check DingTalk's signature with the robot's
secret, as DingTalk does.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import time
import urllib.parse
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Received:
    path: str
    query: dict[str, str]
    body: dict[str, Any]
    at: float = field(default_factory=time.monotonic)


class Receiver:
    def __init__(self, port: int, *, delay_s: float = 0.0, errcode: int = 0,
                 secret: str | None = None) -> None:
        self.port = port
        self.delay_s = delay_s
        self.errcode = errcode
        self.secret = secret  # set: refuse (errcode 310000) a request not signed with it
        self.received: list[Received] = []
        self.refused = 0
        self._server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> Receiver:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)
            self._server = None

    async def __aenter__(self) -> Receiver:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def _signed(self, query: dict[str, str]) -> bool:
        assert self.secret is not None
        ts = query.get("timestamp", "")
        mac = hmac.new(self.secret.encode(), f"{ts}\n{self.secret}".encode(),
                       hashlib.sha256).digest()
        fresh = ts.isdigit() and abs(int(ts) - time.time() * 1000) < 3_600_000
        return fresh and query.get("sign") == base64.b64encode(mac).decode()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            _, target, _ = lines[0].split(" ", 2)
            headers = {k.strip().lower(): v.strip() for k, _, v in
                       (line.partition(":") for line in lines[1:] if line)}
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            url = urllib.parse.urlsplit(target)
            query = dict(urllib.parse.parse_qsl(url.query))  # decodes the URL-encoded sign
            if self.delay_s:
                await asyncio.sleep(self.delay_s)
            code = self.errcode
            if self.secret is not None and not self._signed(query):
                code = 310000  # DingTalk: "sign not match"
            if code:
                self.refused += 1
            else:
                self.received.append(Received(url.path, query, json.loads(body)))
            answer = json.dumps({"errcode": code, "errmsg": "ok" if not code else "refused"})
            writer.write(f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                         f"Content-Length: {len(answer)}\r\nConnection: close\r\n\r\n"
                         f"{answer}".encode())
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, ValueError):
            pass
        finally:
            writer.close()
