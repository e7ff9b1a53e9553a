"""The collector's one adapter to aiomqtt: connect from ``MqttSettings``, map its errors.

The MQTT sink (edge) and the MQTT source (centre) use ``connect``; nothing else imports aiomqtt
or paho. Every aiomqtt or paho exception leaves this module as ``BrokerError`` (network,
timeout, a dropped connection: reconnect with backoff) or ``BrokerAuthError`` (the broker
refused our user, password or certificate: retrying will not help until the config is fixed).

MQTT v5 always: session expiry and shared subscriptions need it.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import math
import socket
import ssl
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiomqtt
from aiomqtt.client import Will
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from collector.errors import BrokerAuthError, BrokerError
from collector.metrics import Metrics
from config.mqtt import MqttSettings, MqttTls

# CONNACK reason codes that mean "who you are was refused" (v5, and v3.1.1's 4 and 5)
AUTH_CODES = {4, 5, 134, 135, 138, 140}


@dataclass(frozen=True, slots=True)
class LastWill:
    topic: str
    payload: bytes
    retain: bool = True


class _StaleWriterFilter(logging.Filter):
    """aiomqtt schedules ``loop.add_writer(fd)`` from paho's callback; when the link drops
    first, the fd is closed by the time it runs and asyncio logs a traceback for a harmless
    no-op on every outage. Only that record is dropped: the drop itself is ours to report."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not (isinstance(exc, OSError) and exc.errno == errno.EBADF
                    and "add_writer" in str(record.msg % record.args if record.args
                                                else record.msg))


logging.getLogger("asyncio").addFilter(_StaleWriterFilter())


def tls_context(tls: MqttTls) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(tls.ca_file))
    ctx.check_hostname = tls.check_hostname
    if tls.cert_file is not None and tls.key_file is not None:
        ctx.load_cert_chain(str(tls.cert_file), str(tls.key_file))
    return ctx


def _mapped(e: BaseException, where: str) -> BrokerError:
    """An aiomqtt/paho/OS error as ours, with the broker's words in it."""
    text = str(e) or type(e).__name__
    rc = getattr(e, "rc", None)
    code = getattr(rc, "value", rc)
    if isinstance(e, aiomqtt.MqttCodeError) and code in AUTH_CODES:
        return BrokerAuthError(f"{where}: the broker refused us: {text}")
    if "CERTIFICATE_VERIFY_FAILED" in text or "certificate" in text.lower():
        return BrokerAuthError(f"{where}: TLS: {text}")
    return BrokerError(f"{where}: {text}")


class Broker:
    """One live connection. Its methods raise ``BrokerError``, never aiomqtt's exceptions."""

    def __init__(self, client: aiomqtt.Client, where: str) -> None:
        self._client = client
        self.where = where

    @property
    def alive(self) -> bool:
        """Whether the link is up (aiomqtt does not say; its paho client does)."""
        return self._client._client.is_connected()

    async def publish(self, topic: str, payload: bytes, *, retain: bool = False,
                      timeout_s: float = 30.0) -> None:
        """Returns once the broker has acknowledged it (PUBACK, QoS 1)."""
        try:
            await self._client.publish(topic, payload, qos=1, retain=retain, timeout=timeout_s)
        except aiomqtt.MqttError as e:
            raise _mapped(e, self.where) from None

    async def subscribe(self, filters: list[str]) -> None:
        """Waits for the SUBACK as long as the connection lives: behind a session's backlog
        it can take a while; a dead link is noticed by the keepalive."""
        try:
            granted = await self._client.subscribe([(f, 1) for f in filters], timeout=math.inf)
        except aiomqtt.MqttError as e:
            raise _mapped(e, self.where) from None
        refused = [f for f, rc in zip(filters, granted, strict=False)
                   if getattr(rc, "value", rc) >= 0x80]
        if refused:
            raise BrokerAuthError(f"{self.where}: the broker refused the subscription to "
                                  f"{', '.join(refused)} ({granted})")

    async def messages(self) -> AsyncIterator[aiomqtt.Message]:
        """Incoming messages until the connection drops (then ``BrokerError``)."""
        try:
            async for message in self._client.messages:
                yield message
        except aiomqtt.MqttError as e:
            raise _mapped(e, self.where) from None

    async def batch(self, limit: int) -> list[aiomqtt.Message]:
        """The next messages: waits for one, then takes the ones already received, up to
        ``limit``, without waiting. aiomqtt's iterator makes a task per message; the queue it
        reads from (the one its ``len(messages)`` reports on) is taken from directly."""
        try:
            out = [await anext(aiter(self._client.messages))]
        except aiomqtt.MqttError as e:
            raise _mapped(e, self.where) from None
        queue = self._client._queue
        while len(out) < limit and not queue.empty():
            out.append(queue.get_nowait())
        return out

    def ack(self, message: aiomqtt.Message) -> None:
        """Acknowledge a QoS 1 message we have handed on (the session was made with
        ``manual_ack``). aiomqtt has no public call for it: paho's client does it."""
        if message.qos > 0:
            self._client._client.ack(message.mid, message.qos)

    async def until_disconnected(self) -> None:
        """Wait until the connection drops; raises ``BrokerError`` then (for publishers,
        which receive nothing, this is how a dead link is noticed at once)."""
        async for _ in self.messages():
            pass
        raise BrokerError(f"{self.where}: the connection ended")


@contextlib.asynccontextmanager
async def connect(settings: MqttSettings, role: str, *, persistent: bool = False,
                  will: LastWill | None = None, manual_ack: bool = False,
                  max_inflight: int | None = None) -> AsyncIterator[Broker]:
    """A connection as ``<client_id>-<role>``; ``persistent``: clean start off and the session
    kept ``session_expiry_s`` while we are away (messages for us are queued meanwhile)."""
    client_id = f"{settings.client_id}-{role}"
    where = f"MQTT {role} {client_id}@{settings.host}:{settings.port}"
    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = settings.session_expiry_s if persistent else 0
    if persistent:
        props.ReceiveMaximum = settings.receive_maximum
    try:
        client = aiomqtt.Client(
            settings.host, settings.port, identifier=client_id,
            username=settings.username,
            password=settings.password.reveal() if settings.password else None,
            protocol=aiomqtt.ProtocolVersion.V5, clean_start=not persistent,
            properties=props, keepalive=settings.keepalive_s, timeout=settings.timeout_s,
            tls_context=tls_context(settings.tls) if settings.tls else None,
            will=Will(will.topic, will.payload, qos=1, retain=will.retain) if will else None,
            max_inflight_messages=max_inflight,
            # MQTT is many small packets each waiting for an answer: Nagle would hold them
            socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)],
        )
    except (OSError, ssl.SSLError, ValueError) as e:
        raise _mapped(e, where) from None
    client.pending_calls_threshold = 1 << 40  # its warning is for unbounded callers; we bound
    if manual_ack:
        client._client.manual_ack_set(True)  # ack once handed on: see Broker.ack
    try:
        async with client:
            yield Broker(client, where)
    except aiomqtt.MqttError as e:
        raise _mapped(e, where) from None


class LinkHealth:
    """Up/down bookkeeping of one broker link (the sink's or the source's), shared so both
    count and log a broker outage alike: counters and the ``/healthz`` problem at once, a
    log line when the link goes down, then at most one a minute while it stays down (a
    refused password every time: it needs the operator)."""

    LOG_EVERY_S = 60.0

    def __init__(self, metrics: Metrics, problem: str, up_gauge: str) -> None:
        self.metrics, self.problem, self.up_gauge = metrics, problem, up_gauge
        self.down_since: float | None = None
        self._logged = 0.0

    def up(self) -> float | None:
        """The link is up; returns how long it was down, or None if it was not."""
        self.metrics.set_gauge(self.up_gauge, 1)
        self.metrics.set_problem(self.problem, None)
        down = None if self.down_since is None else time.monotonic() - self.down_since
        self.down_since = None
        return down

    def failed(self, e: BrokerError) -> tuple[int, float | None] | None:
        """Count a failed connection. When a log line is due: (its level, seconds down so far,
        None for the failure that took the link down); None when no line is due."""
        self.metrics.inc("mqtt_connect_failures")
        loud = isinstance(e, BrokerAuthError)
        if loud:
            self.metrics.inc("mqtt_auth_failures")
        self.metrics.set_problem(self.problem, str(e))
        now = time.monotonic()
        level = logging.ERROR if loud else logging.WARNING
        if self.down_since is None:
            self.down_since = self._logged = now
            return level, None
        if loud or now - self._logged >= self.LOG_EVERY_S:
            self._logged = now
            return level, now - self.down_since
        return None
