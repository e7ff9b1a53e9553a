"""The MQTT sink (edge): every reading to the broker at QoS 1, stored and forwarded.

    put() -> memory batch --(batch_size or linger_s)--> spool (the InfluxDB sink's Spool)
                                                          |
                one sender, in order: publish a record's messages, wait for every PUBACK, ack

A record is a batch of messages, one ``topic<TAB>payload`` line each (payload: JSON, see
``mqtt_payload``). A record leaves the spool only once the broker has acknowledged every
message in it; after a broken connection the sender resends, oldest first, from the first
message not acknowledged, so per device the broker sees the readings in order (a message
whose PUBACK was lost is sent twice: the same timestamp, so the same point downstream).

The link (connect, publish, notice a drop, back off, reconnect) is the one loop in
``_link_loop``. The edge collector's own state is retained on ``<prefix>/<site>/_edge/<id>/
status``: online after connecting, offline on a clean close, and offline as the last will
when the link dies.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterable

from collector.errors import BrokerError, SinkError, SpoolError
from collector.metrics import Metrics
from collector.mqtt_connection import Broker, LastWill, LinkHealth, connect
from collector.reading import Reading
from collector.sinks.influx import Backoff
from collector.sinks.mqtt_payload import (
    edge_payload,
    edge_topic,
    reading_payload,
    reading_topic,
    status_payload,
    status_topic,
)
from collector.sinks.spool import Record, Spool, SpoolWrittenError
from config.mqtt import MqttPublish, MqttSettings

log = logging.getLogger(__name__)

MAX_PENDING = 100_000  # lines in memory, only while the spool cannot be written


def record_messages(body: bytes) -> list[tuple[str, bytes, bool]]:
    """(topic, payload, retain) of each line of a spool record."""
    out = []
    for line in body.split(b"\n"):
        if line:
            topic, _, payload = line.partition(b"\t")
            t = topic.decode()
            out.append((t, payload, t.endswith("/status")))
    return out


class MqttSink:
    def __init__(self, settings: MqttSettings, site: str, metrics: Metrics | None = None,
                 ) -> None:
        if settings.publish is None:
            raise SinkError("mqtt.publish is not set: no MQTT sink to build")
        self.settings = settings
        self.pub: MqttPublish = settings.publish
        self.site = site
        self.metrics = metrics if metrics is not None else Metrics()
        self._spool = Spool(
            self.pub.spool_dir, max_bytes=self.pub.spool_max_bytes,
            segment_bytes=self.pub.spool_segment_bytes, fsync=self.pub.fsync,
            fsync_interval_s=self.pub.fsync_interval_s, on_drop=self._on_drop,
            on_corrupt=lambda n: self.metrics.inc("spool_corrupt_bytes", n))
        self.client_id = f"{settings.client_id}-pub"
        self.edge_topic = edge_topic(settings.topic_prefix, site, self.client_id)
        self._lines: list[str] = []  # encoded messages not yet in the spool
        self._pending_since = 0.0
        self._status: dict[str, tuple[str | None, tuple[int, ...] | None]] = {}
        self._data = asyncio.Event()  # the spool has something new to read
        self._tasks: list[asyncio.Task[None]] = []
        self._rec: Record | None = None  # the record being published
        self._sent = 0  # messages of _rec the broker has acknowledged
        self._broker: Broker | None = None
        self._health = LinkHealth(self.metrics, "mqtt_publish", "mqtt_publish_up")
        self.state = "new"

    # ---- lifecycle -------------------------------------------------------------------------
    async def start(self) -> None:
        if self.state != "new":
            raise SinkError(f"MQTT sink already {self.state}")
        self._spool.open()
        if self._spool.backlog_bytes:
            log.info("MQTT spool %s holds %d bytes from an earlier run: publishing them first",
                     self.pub.spool_dir, self._spool.backlog_bytes)
            self._data.set()
        self.state = "running"
        self._gauges()
        self._tasks = [asyncio.create_task(self._linger_loop(), name="mqtt-linger"),
                       asyncio.create_task(self._link_loop(), name="mqtt-link")]

    async def put(self, readings: Iterable[Reading]) -> None:
        """Accept readings: returning means they are in the memory batch or on disk."""
        if self.state != "running":
            raise SinkError(f"MQTT sink is {self.state}, not accepting readings")
        prefix, site = self.settings.topic_prefix, self.site
        before = len(self._lines)
        for r in readings:
            self._lines.append(f"{reading_topic(prefix, site, r)}\t{reading_payload(r, site)}")
            state = (r.status, r.faults)
            if (r.status is not None or r.faults is not None) and \
                    self._status.get(r.device) != state:
                self._status[r.device] = state
                self._lines.append(f"{status_topic(prefix, site, r)}\t{status_payload(r, site)}")
        if before == 0 and self._lines:
            self._pending_since = time.monotonic()
        if len(self._lines) >= self.pub.batch_size:
            self._flush(whole_batches_only=True)

    async def close(self) -> None:
        """Spool what is in memory, publish for at most close_timeout_s, say offline, stop."""
        if self.state in ("closing", "closed"):
            return
        if self.state == "new":
            self.state = "closed"
            return
        self.state = "closing"
        self._flush()
        deadline = time.monotonic() + self.pub.close_timeout_s
        while not self._spool.caught_up and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        if not self._spool.caught_up:
            log.warning("MQTT sink closing with %d bytes unpublished; they stay in %s",
                        self._spool.backlog_bytes, self.pub.spool_dir)
        broker = self._broker
        if broker is not None:  # a clean goodbye: the last will is only for a dead link
            with contextlib.suppress(BrokerError, TimeoutError):
                await asyncio.wait_for(broker.publish(
                    self.edge_topic, edge_payload(self.client_id, False), retain=True), 2.0)
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        try:
            self._spool.close()
        finally:
            self._gauges()
            self.state = "closed"

    @property
    def caught_up(self) -> bool:
        """Nothing in memory and every spooled message acknowledged by the broker."""
        return not self._lines and self._spool.caught_up

    def flush(self) -> None:
        """Append what is in memory to the spool now (see ``InfluxSink.flush``)."""
        if self.state == "running" and self._lines:
            self._flush()

    # ---- memory -> spool -------------------------------------------------------------------
    def _flush(self, whole_batches_only: bool = False) -> None:
        size = self.pub.batch_size
        while self._lines and (len(self._lines) >= size or not whole_batches_only):
            batch = self._lines[:size]
            body = ("\n".join(batch) + "\n").encode()
            try:
                self._spool.append(body, len(batch), "ns")  # timestamps are in the JSON
            except SpoolWrittenError as e:  # on disk: it counts as spooled
                self.metrics.inc("spool_errors")
                log.error("%s", e)
            except (OSError, SpoolError) as e:
                self.metrics.inc("spool_errors")
                log.error("cannot append to the MQTT spool %s: %s; keeping messages in memory",
                          self.pub.spool_dir, e)
                if len(self._lines) > MAX_PENDING:
                    lost = len(self._lines) - MAX_PENDING
                    del self._lines[:lost]
                    self.metrics.inc("mqtt_dropped", lost)
                return
            del self._lines[: len(batch)]
            self._data.set()
        self._pending_since = time.monotonic()
        self._gauges()

    async def _linger_loop(self) -> None:
        tick = min(self.pub.linger_s, self.pub.fsync_interval_s)
        while True:
            await asyncio.sleep(tick)
            try:
                if self._lines and time.monotonic() - self._pending_since >= self.pub.linger_s:
                    self._flush()
                self._spool.maybe_sync()
            except Exception as e:  # an fsync error must not end the task
                self.metrics.inc("sink_internal_errors")
                log.error("MQTT sink linger failed, retrying: %s", e)

    # ---- spool -> broker -------------------------------------------------------------------
    async def _link_loop(self) -> None:
        """Connect, publish the spool in order, notice a drop, back off, reconnect: forever."""
        backoff = Backoff(self.settings.reconnect_initial_s, self.settings.reconnect_max_s)
        will = LastWill(self.edge_topic, edge_payload(self.client_id, False))
        while True:
            try:
                async with connect(self.settings, "pub", will=will,
                                   max_inflight=self.pub.max_inflight) as broker:
                    await broker.publish(self.edge_topic, edge_payload(self.client_id, True),
                                         retain=True, timeout_s=self.pub.publish_timeout_s)
                    self._broker = broker
                    self._connected()
                    backoff = Backoff(self.settings.reconnect_initial_s,
                                      self.settings.reconnect_max_s)
                    await _first_to_end(broker.until_disconnected(), self._send_loop(broker))
            except BrokerError as e:
                self._failed(e)
            except Exception as e:  # a spool read or cursor error: keep the task alive
                self.metrics.inc("sink_internal_errors")
                log.error("MQTT sink sender failed, retrying: %s", e, exc_info=True)
            finally:
                self._broker = None
                self.metrics.set_gauge("mqtt_publish_up", 0)
            await asyncio.sleep(backoff.next())

    async def _send_loop(self, broker: Broker) -> None:
        while True:
            if self._rec is None:
                self._rec = self._spool.next_record()
                self._sent = 0
                if self._rec is None:
                    self._data.clear()
                    await self._data.wait()
                    continue
            messages = record_messages(self._rec.body)
            await self._publish(broker, messages)
            self._spool.ack(self._rec)
            self._rec = None
            self._gauges()

    async def _publish(self, broker: Broker, messages: list[tuple[str, bytes, bool]]) -> None:
        """Publish messages[_sent:]; paho sends them in call order and keeps at most
        max_inflight unacknowledged. ``_sent`` moves over the acknowledged prefix."""
        timeout = self.pub.publish_timeout_s
        tasks = [asyncio.create_task(broker.publish(t, p, retain=r, timeout_s=timeout))
                 for t, p, r in messages[self._sent:]]
        try:
            await asyncio.gather(*tasks)
        finally:
            acked = 0
            for t in tasks:
                if not t.done() or t.cancelled() or t.exception() is not None:
                    break
                acked += 1
            self._sent += acked
            self.metrics.inc("mqtt_published", acked)
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    # ---- state -----------------------------------------------------------------------------
    def _connected(self) -> None:
        down = self._health.up()
        if down is not None:
            log.warning("MQTT broker reachable again after %.0f s; publishing %d spooled bytes",
                        down, self._spool.backlog_bytes)

    def _failed(self, e: BrokerError) -> None:
        due = self._health.failed(e)
        if due is None:
            return
        level, down = due
        if down is None:
            log.log(level, "MQTT publishing failed, spooling to %s and retrying: %s",
                    self.pub.spool_dir, e)
        else:
            log.log(level, "MQTT publishing still failing after %.0f s (%d bytes spooled): %s",
                    down, self._spool.backlog_bytes, e)

    def _on_drop(self, points: int, nbytes: int) -> None:
        self.metrics.inc("mqtt_dropped", points)
        self.metrics.set_problem("mqtt_spool", f"MQTT spool over its cap: dropped {points} "
                                               "unpublished messages (oldest first)")

    def _gauges(self) -> None:
        self.metrics.set_gauge("mqtt_spool_backlog_bytes", self._spool.backlog_bytes)


async def _first_to_end(*coros: object) -> None:
    """Run the coroutines until the first one ends; cancel the rest; raise its error."""
    tasks = [asyncio.ensure_future(c) for c in coros]  # type: ignore[call-overload]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    for t in done:
        t.result()
