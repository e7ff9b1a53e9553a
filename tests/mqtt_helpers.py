"""Helpers for MQTT tests: settings for a local broker, and a bare subscriber that records."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiomqtt

from config.mqtt import MqttSettings
from localsite.servers import MosquittoServer


def mqtt_settings(server: MosquittoServer, **kw: Any) -> MqttSettings:
    base: dict[str, Any] = dict(host="127.0.0.1", port=server.port, reconnect_initial_s=0.05,
                                reconnect_max_s=0.3, keepalive_s=5)
    return MqttSettings.model_validate(base | kw)


@dataclass
class Recorder:
    """Everything a plain subscriber receives: (topic, payload, retain) in arrival order."""

    messages: list[tuple[str, bytes, bool]] = field(default_factory=list)

    def json(self, suffix: str = "/reading") -> list[dict]:
        return [json.loads(p) for t, p, _ in self.messages if t.endswith(suffix)]

    def last(self, topic: str) -> dict | None:
        found = [p for t, p, _ in self.messages if t == topic]
        return json.loads(found[-1]) if found else None


@contextlib.asynccontextmanager
async def recording(server: MosquittoServer, topic: str) -> AsyncIterator[Recorder]:
    rec = Recorder()
    async with aiomqtt.Client("127.0.0.1", server.port,
                              protocol=aiomqtt.ProtocolVersion.V5) as client:
        await client.subscribe(topic, qos=1)

        async def pump() -> None:
            async for m in client.messages:
                payload = m.payload if isinstance(m.payload, bytes) else str(m.payload).encode()
                rec.messages.append((m.topic.value, payload, m.retain))

        task = asyncio.create_task(pump())
        try:
            yield rec
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def wait_until(cond: Callable[[], bool | Awaitable[bool]], timeout: float = 30.0,
                     what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while True:
        result = cond()
        if not isinstance(result, bool):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        await asyncio.sleep(0.02)
