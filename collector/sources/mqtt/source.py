"""The MQTT source (centre): subscribe, decode through the mappings, emit, then acknowledge.

    broker --QoS 1, persistent session--> batch of messages --decode--> readings --emit-->
    pipeline (counter guard, ...) --> sinks;   then PUBACK each message, in order

A message is acknowledged only once the readings it made are on disk: handed to the
pipeline, then the sinks' memory batches moved to their spools (``flush``, every
``ACK_EVERY_S``). A collector killed even with SIGKILL before that gets the message again from
its session. With clean start off and a session expiry the broker queues what arrives while
we are away. ``mqtt.share_group`` subscribes as
``$share/<group>/<filter>``: the collectors of a group split the stream between them.

Duplicates: a reading whose device and timestamp this process has already emitted (a QoS 1
redelivery, an edge resending a message whose PUBACK it lost) is dropped and counted; one that
slips through (after a restart) rewrites the same InfluxDB point with the same values.

Bad input never ends the loop: it is counted per reason, logged at most once a minute per
reason (``badinput.py``) and the message is acknowledged, so it is not sent again.

The connection is one explicit loop, ``_run``: connect, subscribe, receive until the link
drops, back off (capped, with jitter), reconnect.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict
from collections.abc import Callable, Coroutine, Sequence
from typing import Any, Protocol

from collector.errors import BadInput, BrokerError
from collector.metrics import Metrics
from collector.mqtt_connection import Broker, LinkHealth, connect
from collector.reading import Reading
from collector.sinks.influx import Backoff
from collector.sources.base import Emit
from collector.sources.mqtt.assemble import PerTopicAssembler
from collector.sources.mqtt.badinput import BadInputLog
from collector.sources.mqtt.decoders import JsonDecoder, PvreliefDecoder, Report, TimeBounds
from collector.sources.mqtt.devices import MqttDevices
from collector.sources.polling import PollHook
from config.mappings import JsonMapping, MappingRegistry, PerTopicMapping, load_mappings
from config.profiles import ProfileRegistry
from config.schema import Config
from timebase.clock import Clock

log = logging.getLogger(__name__)

MAX_BATCH = 1000  # messages decoded and emitted together
ACK_EVERY_S = 0.05  # acknowledgements go out this often: one spool record per tick, not per batch
SEEN_PER_DEVICE = 256  # timestamps remembered per device, for duplicates
FLUSH_EVERY_S = 0.2  # real seconds between looks for per-topic windows gone quiet


async def _unless_ended(step: Coroutine[Any, Any, None], task: asyncio.Future[None]) -> None:
    """Run ``step``; if ``task`` ends first (with an error), raise that instead."""
    job = asyncio.ensure_future(step)
    try:
        await asyncio.wait({job, task}, return_when=asyncio.FIRST_COMPLETED)
        if not job.done():
            task.result()  # raises what ended it
            raise BrokerError("the receive loop ended before the subscription was confirmed")
        job.result()
    finally:
        job.cancel()


class Decoder(Protocol):
    dedupe_by_ts: bool

    def decode(self, topic: str, payload: bytes, now_ns: int, report: Report
               ) -> list[Reading]: ...


def topic_matches(pattern: list[str], levels: list[str]) -> bool:
    """MQTT filter matching: + is one level, a final # is any number (even none)."""
    for i, p in enumerate(pattern):
        if p == "#":
            return True
        if i >= len(levels) or (p != "+" and p != levels[i]):
            return False
    return len(levels) == len(pattern)


class MqttSource:
    name = "mqtt"

    def __init__(self, config: Config, registry: ProfileRegistry, clock: Clock, emit: Emit,
                 on_poll: PollHook | None = None, metrics: Metrics | None = None,
                 mappings: MappingRegistry | None = None,
                 flush: Callable[[], None] | None = None) -> None:
        self.settings = config.mqtt
        self.flush = flush  # None: the sinks keep nothing in memory (tests, tools)
        self.clock = clock
        self.emit = emit
        self.on_poll = on_poll
        self.metrics = metrics if metrics is not None else Metrics()
        mappings = mappings if mappings is not None else load_mappings()
        self.devices = MqttDevices(config, registry)
        bounds = TimeBounds(int(self.settings.max_future_s * 1e9),
                            int(self.settings.max_age_s * 1e9))
        self.routes: list[tuple[list[str], Decoder]] = []
        self.assemblers: list[PerTopicAssembler] = []
        for sub in self.settings.subscriptions:
            m = mappings[sub.mapping]
            decoder: Decoder
            if isinstance(m, PerTopicMapping):
                decoder = PerTopicAssembler(m, self.devices, bounds, self._duplicate)
                self.assemblers.append(decoder)
            elif isinstance(m, JsonMapping):
                decoder = JsonDecoder(m, self.devices, bounds)
            else:
                decoder = PvreliefDecoder(m, self.devices, bounds)
            self.routes.append((sub.topic.split("/"), decoder))
        group = self.settings.share_group
        self.filters = [f"$share/{group}/{s.topic}" if group else s.topic
                        for s in self.settings.subscriptions]
        self.bad = BadInputLog(self.metrics, self.settings.bad_input_file)
        self._route_cache: dict[str, Decoder | None] = {}
        self._seen: dict[str, OrderedDict[int, None]] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._health = LinkHealth(self.metrics, "mqtt_subscribe", "mqtt_subscribe_up")
        self._topic = ""  # the message being decoded, for report()
        self.connected = asyncio.Event()

    # ---- lifecycle -------------------------------------------------------------------------
    async def start(self) -> None:
        log.info("MQTT: %d devices, subscribing to %s on %s:%d", len(self.devices),
                 ", ".join(self.filters), self.settings.host, self.settings.port)
        self._tasks = [asyncio.create_task(self._run(), name="mqtt-source")]
        if self.assemblers:
            self._tasks.append(asyncio.create_task(self._flush_loop(), name="mqtt-windows"))

    async def stop(self, timeout_s: float) -> None:
        """Stop receiving; what was received and acknowledged (open per-topic windows) is
        emitted before this returns; what was received and not acknowledged stays with the
        broker for our next session."""
        for t in self._tasks:
            t.cancel()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.gather(*self._tasks, return_exceptions=True),
                                   timeout_s)
        left = [r for a in self.assemblers for r in a.flush(self.clock.now_ns(), force=True)]
        if left:
            await self.emit(left)
        self.metrics.set_gauge("mqtt_subscribe_up", 0)

    # ---- the connection loop ---------------------------------------------------------------
    async def _run(self) -> None:
        backoff = Backoff(self.settings.reconnect_initial_s, self.settings.reconnect_max_s)
        while True:
            try:
                async with connect(self.settings, "sub", persistent=True,
                                   manual_ack=True) as broker:
                    # A session with a backlog sends up to receive_maximum messages before
                    # the SUBACK: receive them meanwhile, or a slow machine never sees it.
                    receiving = asyncio.ensure_future(self._receive(broker))
                    try:
                        await _unless_ended(broker.subscribe(self.filters), receiving)
                        self._up()
                        backoff = Backoff(self.settings.reconnect_initial_s,
                                          self.settings.reconnect_max_s)
                        await receiving
                    finally:
                        receiving.cancel()
                        with contextlib.suppress(asyncio.CancelledError, Exception):
                            await receiving
            except BrokerError as e:
                self._failed(e)
            except Exception as e:  # a stage or sink failed: unacknowledged, so redelivered
                self.metrics.inc("mqtt_connect_failures")
                log.error("MQTT source: handing readings on failed (%s); reconnecting, the "
                          "broker sends the unacknowledged messages again", e, exc_info=True)
            finally:
                self.connected.clear()
                self.metrics.set_gauge("mqtt_subscribe_up", 0)
            await asyncio.sleep(backoff.next())

    async def _receive(self, broker: Broker) -> None:
        unacked: list = []  # handed on, in the order received
        acker = asyncio.create_task(self._ack_loop(broker, unacked), name="mqtt-acks")
        try:
            while True:
                batch = await broker.batch(MAX_BATCH)
                readings = self._decode(batch)
                if readings:
                    await self.emit(readings)
                unacked += batch
        finally:
            acker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await acker
            if broker.alive:  # a stop, not a broken link: acknowledge what was handed on
                with contextlib.suppress(Exception):
                    self._ack(broker, unacked)
            # otherwise what is not acknowledged comes again with the next session

    async def _ack_loop(self, broker: Broker, unacked: list) -> None:
        while True:
            await asyncio.sleep(ACK_EVERY_S)
            if unacked:
                self._ack(broker, unacked)

    def _ack(self, broker: Broker, unacked: list) -> None:
        """Sinks' memory to disk first, then PUBACK every message handed on so far."""
        if self.flush is not None:
            self.flush()
        for m in unacked:
            broker.ack(m)
        unacked.clear()

    async def _flush_loop(self) -> None:
        while True:
            await asyncio.sleep(FLUSH_EVERY_S)
            now = self.clock.now_ns()
            ready = [r for a in self.assemblers for r in a.flush(now)]
            if ready:
                try:
                    await self.emit(self._counted(ready))
                except Exception as e:
                    log.error("MQTT source: handing assembled readings on failed: %s", e)

    # ---- decoding --------------------------------------------------------------------------
    def _decode(self, batch: Sequence) -> list[Reading]:
        out: list[Reading] = []
        now = self.clock.now_ns()
        limit = self.settings.max_payload_bytes
        self.metrics.inc("mqtt_messages", len(batch))
        for m in batch:
            topic = m.topic.value
            payload = m.payload
            self._topic = topic
            try:
                if not isinstance(payload, bytes | bytearray):
                    payload = str(payload).encode()
                if len(payload) > limit:
                    raise BadInput("too_large", f"{len(payload)} bytes, over mqtt."
                                                f"max_payload_bytes ({limit})")
                decoder = self._route(topic)
                readings = decoder.decode(topic, bytes(payload), now, self._report)
            except BadInput as e:
                self.bad.record(e.reason, topic, e.detail,
                                None if e.reason == "too_large" else bytes(payload))
                continue
            if decoder.dedupe_by_ts:
                readings = [r for r in readings if self._fresh(r)]
            out += readings
        return self._counted(out)

    def _report(self, reason: str, detail: str) -> None:
        self.bad.record(reason, self._topic, detail)

    def _route(self, topic: str) -> Decoder:
        decoder = self._route_cache.get(topic)
        if decoder is None:
            levels = topic.split("/")
            decoder = next((d for pattern, d in self.routes if topic_matches(pattern, levels)),
                           None)
            if decoder is None:
                raise BadInput("bad_topic", "matches none of mqtt.subscriptions")
            if len(self._route_cache) > 100_000:
                self._route_cache.clear()
            self._route_cache[topic] = decoder
        return decoder

    def _fresh(self, r: Reading) -> bool:
        seen = self._seen.get(r.device)
        if seen is None:
            seen = self._seen[r.device] = OrderedDict()
        if r.ts_ns in seen:
            self._duplicate()
            return False
        seen[r.ts_ns] = None
        if len(seen) > SEEN_PER_DEVICE:
            seen.popitem(last=False)
        return True

    def _duplicate(self) -> None:
        self.metrics.inc("mqtt_duplicates")

    def _counted(self, readings: list[Reading]) -> list[Reading]:
        self.metrics.inc("mqtt_readings", len(readings))
        if self.on_poll is not None:
            for r in readings:
                self.on_poll(r.device, True, 0.0, r.ts_ns)
        return readings

    # ---- state -----------------------------------------------------------------------------
    def _up(self) -> None:
        self.connected.set()
        down = self._health.up()
        if down is not None:
            log.warning("MQTT source connected again after %.0f s", down)
        else:
            log.info("MQTT source connected and subscribed")

    def _failed(self, e: BrokerError) -> None:
        due = self._health.failed(e)
        if due is None:
            return
        level, down = due
        if down is None:
            log.log(level, "MQTT source cannot receive, retrying: %s", e)
        else:
            log.log(level, "MQTT source still cannot receive after %.0f s: %s", down, e)
