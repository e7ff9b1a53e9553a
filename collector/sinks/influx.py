"""InfluxDB sink: batches readings and POSTs line protocol to the v1 ``/write`` API.

Readings are buffered and sent when ``batch_size`` points are waiting or ``linger_s`` has
passed. A failed POST keeps its batch and is retried with capped exponential backoff.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Iterable

import httpx

from collector.errors import SinkAuthError, SinkError
from collector.lineprotocol import encode
from collector.reading import Reading
from config.influx import InfluxSettings

log = logging.getLogger(__name__)


class InfluxSink:
    def __init__(self, settings: InfluxSettings) -> None:
        self.settings = settings
        self._base = str(settings.url).rstrip("/")
        headers = {}
        if settings.token is not None:
            headers["Authorization"] = f"Token {settings.token.reveal()}"
        auth = None
        if settings.username and settings.password is not None:
            auth = (settings.username, settings.password.reveal())
        self._client = httpx.AsyncClient(headers=headers, auth=auth,
                                         timeout=settings.timeout_s)
        self._buffer: list[Reading] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self.written = 0  # points the server confirmed

    async def __aenter__(self) -> InfluxSink:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def start(self) -> None:
        if self.settings.create_database:
            with contextlib.suppress(httpx.HTTPError):
                await self._client.post(f"{self._base}/query",
                                        params={"q": f'CREATE DATABASE "{self.settings.database}"'})
        self._task = asyncio.create_task(self._run(), name="influx-sink")

    async def put(self, readings: Iterable[Reading]) -> None:
        self._buffer.extend(readings)
        if len(self._buffer) >= self.settings.batch_size:
            self._wake.set()

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.settings.linger_s)
            self._wake.clear()
            await self._drain()
            if self._closing and not self._buffer:
                return

    async def _drain(self) -> None:
        while self._buffer:
            batch = self._buffer[: self.settings.batch_size]
            await self._post_with_retry(encode(batch, self.settings.precision))
            del self._buffer[: len(batch)]
            self.written += len(batch)

    async def _post_with_retry(self, body: bytes) -> None:
        delay = 0.2
        while True:
            try:
                await self._post(body)
                return
            except SinkAuthError:
                raise
            except SinkError as e:
                log.warning("InfluxDB write failed, retrying in %.1f s: %s", delay, e)
                await asyncio.sleep(delay * (0.5 + random.random()))
                delay = min(delay * 2, 30.0)

    async def _post(self, body: bytes) -> None:
        if not body:
            return
        params = {"db": self.settings.database, "precision": self.settings.precision}
        try:
            r = await self._client.post(f"{self._base}/write", params=params, content=body)
        except httpx.HTTPError as e:
            raise SinkError(f"InfluxDB at {self._base} unreachable: {e!r}") from e
        if r.status_code == 204:
            return
        if r.status_code in (401, 403):
            raise SinkAuthError(f"InfluxDB refused credentials ({r.status_code}): {r.text[:200]}")
        raise SinkError(f"InfluxDB answered {r.status_code}: {r.text[:200]}")

    async def close(self) -> None:
        """Deliver everything buffered, then stop."""
        self._closing = True
        self._wake.set()
        if self._task is not None:
            await self._task
        await self._client.aclose()
