"""The simulator's MQTT side: plants that push their readings, through a 4G uplink that drops.

Each plant with ``protocol: mqtt`` devices gets a publisher. Every ``interval_s`` of simulated
time it steps the fleet's physics to now, turns each of its devices that is awake and not
silenced by a fault into messages of its shape (``mqtt_shapes``) and queues them; a sender
publishes the queue in order at QoS 1 through the plant's own ``Uplink``, and drops a message
from the queue only once the broker acknowledged it. While the uplink is cut (``cuts``) the
queue grows; when it is back the backlog goes out oldest first, as an edge or a logger that
buffers would send it.

``published`` records what was sent per device, (timestamp as sent, canonical fields): the
ground truth a test compares the collector's stored points with.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections import deque
from collections.abc import Coroutine
from dataclasses import dataclass, field
from datetime import datetime
from itertools import islice
from zoneinfo import ZoneInfo

import aiomqtt

from config.schema import Config, Plant
from config.simulator_mqtt import SimMqttPlant
from simulator.devices import SimDevice
from simulator.fleet import Fleet
from simulator.mqtt_shapes import (
    Message,
    edge_messages,
    logger_json_messages,
    logger_topic_messages,
)
from simulator.uplink import Uplink
from timebase.clock import Clock

log = logging.getLogger(__name__)

IN_FLIGHT = 100  # messages published before waiting for their acknowledgements


def _instant_ns(when: float | datetime, start_ns: int) -> int:
    if isinstance(when, datetime):
        return int(when.timestamp() * 1e9)
    return start_ns + int(when * 1e9)


@dataclass
class PlantPublisher:
    plant: Plant
    spec: SimMqttPlant
    devices: list[SimDevice]
    uplink: Uplink
    prefix: str
    queue: deque[Message] = field(default_factory=deque)
    more: asyncio.Event = field(default_factory=asyncio.Event)
    sent: int = 0


class SimMqtt:
    def __init__(self, fleet: Fleet, config: Config, clock: Clock) -> None:
        self.fleet = fleet
        self.config = config
        self.clock = clock
        sim = config.simulator
        start_ns = int(sim.start.timestamp() * 1e9) if sim.start is not None else clock.now_ns()
        self.cuts = [(_instant_ns(c.from_, start_ns), _instant_ns(c.until, start_ns))
                     for c in sim.mqtt.cuts]
        broker = (config.mqtt.host, config.mqtt.port)
        listed = {p.plant: p for p in sim.mqtt.plants}
        self.publishers: list[PlantPublisher] = []
        for plant in config.plants():
            devices = [fleet.devices[d.id] for d in plant.all_devices() if d.protocol == "mqtt"]
            if not devices:
                continue
            spec = listed.get(plant.id) or SimMqttPlant(plant=plant.id)
            prefix = spec.prefix or (config.mqtt.topic_prefix if spec.shape == "pvrelief"
                                     else "sunlog")
            self.publishers.append(PlantPublisher(
                plant, spec, devices, Uplink(broker, clock, self.cuts, name=f"uplink-{plant.id}"),
                prefix))
        self.edge_uplink = None if sim.mqtt.uplink_port is None else Uplink(
            broker, clock, self.cuts, listen=("127.0.0.1", sim.mqtt.uplink_port), name="uplink")
        self.published: dict[str, list[tuple[int, dict[str, float]]]] = {
            d.id: [] for p in self.publishers for d in p.devices}
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def backlog(self) -> int:
        """Messages produced and not yet acknowledged by the broker."""
        return sum(len(p.queue) for p in self.publishers)

    async def start(self) -> SimMqtt:
        if self.edge_uplink is not None:
            await self.edge_uplink.start()
        for p in self.publishers:
            await p.uplink.start()
            self._tasks += [asyncio.create_task(self._produce(p), name=f"sim-mqtt-{p.plant.id}"),
                            asyncio.create_task(self._send(p), name=f"sim-send-{p.plant.id}")]
        if self.publishers:
            log.info("publishing %d devices of %d plants over MQTT",
                     sum(len(p.devices) for p in self.publishers), len(self.publishers))
        return self

    async def stop(self, drain_s: float = 5.0) -> None:
        """Stop producing; give the senders ``drain_s`` real seconds to empty their queues."""
        for t in self._tasks[::2]:
            t.cancel()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + drain_s
        while self.backlog and loop.time() < deadline:
            await asyncio.sleep(0.02)
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for p in self.publishers:
            await p.uplink.stop()
        if self.edge_uplink is not None:
            await self.edge_uplink.stop()

    async def __aenter__(self) -> SimMqtt:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # ---- producing -------------------------------------------------------------------------
    async def _produce(self, p: PlantPublisher) -> None:
        interval = int(p.spec.interval_s * 1e9)
        due = self.clock.now_ns() // interval * interval + interval
        zone = ZoneInfo(p.plant.timezone)
        site = self.config.site.id
        while True:
            wait = (due - self.clock.now_ns()) / 1e9 / self.clock.speed
            if wait > 0:
                await asyncio.sleep(wait)
                continue
            now = self.clock.now_ns()
            self.fleet.step(now)  # the state the messages describe is the state at `now`
            ts_ms = now // 1_000_000
            for dev in p.devices:
                if self.fleet.behaviour[dev.id].dead:
                    continue  # asleep, or silenced by a no_answer fault
                if p.spec.shape == "pvrelief":
                    msgs, ts = edge_messages(dev, p.prefix, site, p.plant.village, now), now
                elif p.spec.shape == "json":
                    msgs, ts = logger_json_messages(dev, p.prefix, zone, ts_ms), ts_ms * 10**6
                else:
                    msgs, ts = logger_topic_messages(dev, p.prefix, ts_ms), ts_ms * 10**6
                p.queue.extend(msgs)
                self.published[dev.id].append((ts, dict(dev.published)))
            p.more.set()
            due += interval
            while due <= now:  # a slow machine skips a beat rather than bursting
                due += interval

    # ---- sending ---------------------------------------------------------------------------
    async def _send(self, p: PlantPublisher) -> None:
        mq = self.config.mqtt
        tls = None
        if mq.tls is not None:
            tls = ssl.create_default_context(cafile=str(mq.tls.ca_file))
            tls.check_hostname = mq.tls.check_hostname
            if mq.tls.cert_file and mq.tls.key_file:
                tls.load_cert_chain(str(mq.tls.cert_file), str(mq.tls.key_file))
        delay = 0.05
        while True:
            try:
                async with aiomqtt.Client(
                        "127.0.0.1", p.uplink.port, identifier=f"sim-{p.plant.id}",
                        protocol=aiomqtt.ProtocolVersion.V5, timeout=5, tls_context=tls,
                        username=mq.username,
                        password=mq.password.reveal() if mq.password else None) as client:
                    client.pending_calls_threshold = 1 << 40
                    delay = 0.05
                    await _until_first_ends(_drained(client), self._publish_queue(client, p))
            except aiomqtt.MqttError as e:
                log.debug("%s: publishing failed (%s), %d queued", p.uplink.name, e,
                          len(p.queue))
            await asyncio.sleep(delay)
            delay = min(delay * 2, 1.0)


    async def _publish_queue(self, client: aiomqtt.Client, p: PlantPublisher) -> None:
        while True:
            if not p.queue:
                p.more.clear()
                await p.more.wait()
                continue
            batch = list(islice(p.queue, IN_FLIGHT))
            await _all_acknowledged(client, batch)
            for _ in batch:
                p.queue.popleft()
            p.sent += len(batch)


async def _drained(client: aiomqtt.Client) -> None:
    """Ends (raising) when the connection drops: a publisher receives nothing else."""
    async for _ in client.messages:
        pass


async def _until_first_ends(*coros: Coroutine[None, None, None]) -> None:
    tasks = [asyncio.create_task(c) for c in coros]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    for t in done:
        t.result()


async def _all_acknowledged(client: aiomqtt.Client, batch: list[Message]) -> None:
    tasks = [asyncio.create_task(client.publish(t, m, qos=1)) for t, m in batch]
    try:
        await asyncio.gather(*tasks)
    finally:
        for t in tasks:
            t.cancel()
        with contextlib.suppress(Exception):
            await asyncio.gather(*tasks, return_exceptions=True)
