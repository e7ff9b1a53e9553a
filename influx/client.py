"""The InfluxDB write endpoint: one POST, and the only place httpx errors are mapped.

``post`` raises by what the caller can do (collector/errors.py): SinkUnavailable (retry later),
SinkRejected (400/413: some lines are bad), SinkAuthError (401/403), SinkTargetMissing (404).
``write`` adds the 400 policy: InfluxDB 1.x writes the good lines of a batch and answers
``400 partial write: ... dropped=N`` without saying which lines were bad (for a field type
conflict), so the bad lines are isolated by re-posting halves. Re-posting good lines is
harmless: a point with the same measurement, tag set and timestamp overwrites itself.
"""

from __future__ import annotations

import gzip
import json
import logging
from dataclasses import dataclass

import httpx

from collector.errors import (
    SinkAuthError,
    SinkRefused,
    SinkRejected,
    SinkTargetMissing,
    SinkUnavailable,
)
from config.influx import InfluxSettings

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class BadLine:
    line: bytes
    reason: str


class InfluxWriter:
    def __init__(self, settings: InfluxSettings) -> None:
        self.settings = settings
        self.base = str(settings.url).rstrip("/")
        headers = {"Content-Type": "text/plain; charset=utf-8"}
        if settings.token is not None:
            headers["Authorization"] = f"Token {settings.token.reveal()}"
        if settings.gzip:
            headers["Content-Encoding"] = "gzip"
        auth = None
        if settings.username and settings.password is not None:
            auth = (settings.username, settings.password.reveal())
        if settings.api == "v2":
            self.url = f"{self.base}/api/v2/write"
            self._params = {"org": settings.org or "", "bucket": settings.bucket or
                            settings.database}
        else:
            self.url = f"{self.base}/write"
            self._params = {"db": settings.database}
        limits = httpx.Limits(max_connections=settings.max_inflight + 1)
        self._client = httpx.AsyncClient(headers=headers, auth=auth, limits=limits,
                                         timeout=settings.timeout_s)

    async def aclose(self) -> None:
        await self._client.aclose()

    async def create_database(self) -> bool:
        """CREATE DATABASE on a 1.x server; False when it could not be done now."""
        if self.settings.api != "v1":
            return False
        q = f'CREATE DATABASE "{self.settings.database}"'
        try:
            r = await self._client.post(f"{self.base}/query", params={"q": q})
        except httpx.HTTPError:
            return False
        if r.status_code != 200:
            return False
        try:  # a statement error is a 200 with {"results": [{"error": ...}]}
            err = (r.json().get("results") or [{}])[0].get("error")
        except (ValueError, AttributeError, IndexError):
            return False
        if err:
            log.error("CREATE DATABASE %r failed: %s", self.settings.database, err)
            return False
        return True

    async def post(self, body: bytes, precision: str) -> None:
        if not body:
            return
        if self.settings.gzip:
            body = gzip.compress(body, compresslevel=1)
        params = {**self._params, "precision": precision}
        try:
            r = await self._client.post(self.url, params=params, content=body)
        except httpx.HTTPError as e:  # connect, read, timeout, protocol: all "try later"
            raise SinkUnavailable(f"InfluxDB at {self.base} unreachable: {e!r}") from e
        code = r.status_code
        if code in (200, 204):
            return
        reason = _reason(r)
        if code in (401, 403):
            raise SinkAuthError(f"InfluxDB at {self.base} refused the credentials ({code}): "
                                f"{reason}")
        if code == 404:
            raise SinkTargetMissing(f"InfluxDB at {self.base}: {reason} (404)")
        if code == 413 or (code in (400, 422) and is_about_lines(reason)):
            raise SinkRejected(reason)  # bisected: halves are re-posted, bad lines quarantined
        if code in (400, 422):
            # about the request itself (a setting): quarantining every line would empty the
            # spool into the quarantine file, so keep the data and say so loudly instead
            raise SinkRefused(f"InfluxDB at {self.base} refused the request ({code}): {reason}")
        retry_after = None
        if code == 429 or code == 503:
            try:
                retry_after = float(r.headers.get("Retry-After", ""))
            except ValueError:
                retry_after = None
        raise SinkUnavailable(f"InfluxDB at {self.base} answered {code}: {reason}", retry_after)

    async def write(self, body: bytes, precision: str) -> list[BadLine]:
        """POST ``body``; return the lines InfluxDB refused (all others are stored).

        Raises SinkUnavailable/SinkAuthError/SinkTargetMissing: then retry the whole body.
        """
        try:
            await self.post(body, precision)
            return []
        except SinkRejected as e:
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
            except SinkRejected as e:
                bad += await self._isolate(half, precision, e.reason)
        return bad


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


def _reason(r: httpx.Response) -> str:
    try:
        err = r.json().get("error") or r.json().get("message")
        if err:
            return str(err)
    except (json.JSONDecodeError, AttributeError, ValueError):
        pass
    return r.text[:500] or r.reason_phrase
