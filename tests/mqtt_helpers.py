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
from config.schema import Config
from localsite.servers import MosquittoServer


def mqtt_settings(server: MosquittoServer, **kw: Any) -> MqttSettings:
    base: dict[str, Any] = dict(host="127.0.0.1", port=server.port, reconnect_initial_s=0.05,
                                reconnect_max_s=0.3, keepalive_s=5, timeout_s=2)
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


def pushed_plant(plant: str = "p1", village: str = "v1", inverters: int = 2,
                 profile: str = "sunspec-inverter") -> dict[str, Any]:
    """A village with one plant whose inverters and meter push their readings over MQTT."""
    return {"id": village, "plants": [{
        "id": plant, "capacity_kwp_dc": 300, "capacity_kw_ac": 250, "latitude": 36.27,
        "longitude": 100.62, "altitude_m": 2800,
        "devices": [{"id": f"{plant}-inv", "profile": profile, "protocol": "mqtt",
                     "repeat": inverters},
                    {"id": f"{plant}-meter", "profile": "sunspec-meter", "protocol": "mqtt"}],
    }]}


def pushed_config(mqtt: dict[str, Any] | None = None, villages: list[dict] | None = None,
                  **top: Any) -> Config:
    return Config.model_validate({
        "site": {"id": "s1"}, "mqtt": mqtt or {},
        "counties": [{"id": "c1", "townships": [{"id": "t1",
                                                  "villages": villages or [pushed_plant()]}]}],
        **top})


async def publish(server: MosquittoServer, messages: list[tuple[str, bytes]], *,
                  tls: bool = False, user: tuple[str, str] | None = None) -> None:
    """Publish at QoS 1 as a plain client (an edge or a logger we do not run ourselves)."""
    import ssl

    ctx = ssl.create_default_context(cafile=str(server.ca_file)) if tls else None
    async with aiomqtt.Client("127.0.0.1", server.port, protocol=aiomqtt.ProtocolVersion.V5,
                              tls_context=ctx, username=user[0] if user else None,
                              password=user[1] if user else None) as client:
        for topic, payload in messages:
            await client.publish(topic, payload, qos=1)


def stored(server: Any, db: str, measurement: str, device: str) -> dict[int, dict[str, Any]]:
    """Every point of one device in InfluxDB: time (ns) -> its fields (None left out)."""
    series = server.query(f"SELECT * FROM \"{measurement}\" WHERE device = '{device}'", db)
    out: dict[int, dict[str, Any]] = {}
    for s in series:
        cols = s["columns"]
        for row in s["values"]:
            point = {c: v for c, v in zip(cols, row, strict=True)
                     if v is not None and c not in ("time", "device", "plant", "village")}
            out[row[0]] = point
    return out


def edge_and_centre(modbus_port: int, broker_port: int, influx_url: str, db: str,
                    tmp: Any, *, speed: float = 600, inverters: int = 3,
                    edge_port: int | None = None, start: str = "2020-06-21T11:00:00+08:00",
                    centre_id: str = "centre") -> tuple[Config, Config]:
    """One plant polled over Modbus by an edge collector that publishes (instead of writing to
    InfluxDB), and the central collector's view of it: the same devices, protocol mqtt."""
    def plant(pushed: bool) -> dict[str, Any]:
        where: dict[str, Any] = {"protocol": "mqtt"} if pushed else {"port": modbus_port}
        return {"id": "v1", "plants": [{
            "id": "p1", "capacity_kwp_dc": 300, "capacity_kw_ac": 250, "latitude": 36.27,
            "longitude": 100.62, "altitude_m": 2800,
            "devices": [{"id": "p1-inv", "profile": "sunspec-inverter", "repeat": inverters,
                         "poll_interval_s": 60, **({} if pushed else {"unit_id": 1}), **where},
                        {"id": "p1-meter", "profile": "sunspec-meter", "poll_interval_s": 60,
                         **({} if pushed else {"unit_id": 100}), **where}]}]}

    common: dict[str, Any] = {
        "site": {"id": "s1"}, "collector": {"timeout_s": 1.0},
        "simulator": {"start": start, "speed": speed, "seed": 7, "tick_s": 10},
        "influxdb": {"url": influx_url, "database": db, "linger_s": 0.1,
                     "spool_dir": str(tmp / "spool-influx")},
    }
    mqtt: dict[str, Any] = {"host": "127.0.0.1", "reconnect_initial_s": 0.05,
                            "reconnect_max_s": 0.25, "keepalive_s": 5, "timeout_s": 2}
    # each collector keeps its alarm state in a folder of its own (one collector per folder)
    edge = Config.model_validate(common | {
        "state_dir": str(tmp / "state-edge"),
        "mqtt": mqtt | {"port": edge_port or broker_port, "client_id": "edge", "publish": {
            "spool_dir": str(tmp / "spool-edge"), "linger_s": 0.05, "batch_size": 50,
            "publish_timeout_s": 5, "close_timeout_s": 5}},
        "counties": [{"id": "c1", "townships": [{"id": "t1", "villages": [plant(False)]}]}]})
    centre = Config.model_validate(common | {
        "state_dir": str(tmp / f"state-{centre_id}"),
        "mqtt": mqtt | {"port": broker_port, "client_id": centre_id,
                        "subscriptions": [{"topic": "pvrelief/+/+/+/reading",
                                           "mapping": "pvrelief"}]},
        "counties": [{"id": "c1", "townships": [{"id": "t1", "villages": [plant(True)]}]}]})
    return edge, centre
