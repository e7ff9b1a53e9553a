"""The demo's plant on the MQTT path: edge collector -> Mosquitto -> central collector -> InfluxDB.

One plant of the demo config is taken off the central collector's Modbus polling. An edge
collector of its own polls that plant's (simulated) devices and publishes every reading to a
private Mosquitto under ``var/``; the central collector gets the plant's devices as
``protocol: mqtt`` and a subscription, and writes them to InfluxDB like every other plant. The
fleet still serves the plant over Modbus (to the edge), so the energy table compares it with
ground truth as it does the others.

    path = MqttPlantPath(cfg, "village-b", var, clock)
    collector = Collector(path.central, sinks, clock)   # instead of Collector(cfg, ...)
    await fleet.start(); await path.start(); await collector.start()
    ...
    await path.stop_edge(); await collector.stop(); await path.stop_broker(); await fleet.stop()
"""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

from collector.metrics import Metrics
from collector.runner import Collector
from collector.sinks.mqtt import MqttSink
from config.mqtt import MqttPublish, MqttSettings, Subscription
from config.schema import Config
from localsite.servers import MosquittoServer
from timebase.clock import Clock

log = logging.getLogger(__name__)

DEMO_MQTT_PLANT = "village-b"
HANDOVER_S = 10.0  # real seconds the edge may take to publish what it holds at the end
LINGER_S = 0.02  # real seconds the edge's MQTT sink gathers readings before it publishes


def _only(cfg: Config, plant_id: str) -> Config:
    """A copy of ``cfg`` whose tree holds just ``plant_id``."""
    out = cfg.model_copy(deep=True)
    for county in out.counties:
        county.plants = [p for p in county.plants if p.id == plant_id]
        for township in county.townships:
            township.plants = [p for p in township.plants if p.id == plant_id]
            for village in township.villages:
                village.plants = [p for p in village.plants if p.id == plant_id]
    return out


class MqttPlantPath:
    """``central`` is the config the demo's collector runs; ``start``/``stop_*`` run the rest."""

    def __init__(self, cfg: Config, plant_id: str, var: Path, clock: Clock) -> None:
        plant = next((p for p in cfg.plants() if p.id == plant_id), None)
        if plant is None or plant.gateways:
            raise ValueError(f"the MQTT demo plant {plant_id!r} must exist and list its "
                             "devices directly (no gateway)")
        self.plant_id = plant_id
        self.clock = clock
        self.broker = MosquittoServer(var / "mosquitto")
        common = dict(host="127.0.0.1", port=self.broker.port, reconnect_initial_s=0.1,
                      reconnect_max_s=2.0)
        self.edge_config = _only(cfg, plant_id)
        # the settlement meter on DL/T 645 stays with the central collector, which bills by
        # it: one master on that bus, and the edge publishes the Modbus devices only
        for p in self.edge_config.plants():
            p.dlt645_gateways = []
        # the linger is real time, and the edge holds a reading up to twice it: at 1440x the
        # 0.2 s this was became 5-10 simulated minutes on the way, and with polls of 60 s the
        # central collector saw the check meter as silent (comm-loss, flapping all day: a 25 %
        # fault rate for a plant without faults). 0.02 s is 30-60 simulated seconds.
        self.edge_config.mqtt = MqttSettings(
            **common, client_id="demo-edge",
            publish=MqttPublish(spool_dir=var / "spool-mqtt-edge", linger_s=LINGER_S))
        # the central collector judges alarms for the whole site (one alarm per fault, one
        # state database); the edge keeps a state folder of its own all the same
        self.edge_config.alarms.enabled = False
        self.edge_config.state_dir = var / "state-mqtt-edge"
        self.central = cfg.model_copy(deep=True)
        self.central.mqtt = MqttSettings(
            **common, client_id="demo-centre",
            subscriptions=[Subscription(topic=f"{self.central.mqtt.topic_prefix}/+/+/+/reading",
                                        mapping="pvrelief")])
        for p in self.central.plants():
            if p.id == plant_id:
                for d in p.all_devices():
                    d.protocol = "mqtt"  # the central collector no longer polls it
        self.edge_metrics = Metrics()
        self.edge: Collector | None = None

    async def start(self) -> None:
        """Start Mosquitto and the edge collector (the fleet must be serving already)."""
        await asyncio.to_thread(self.broker.start)
        sink = MqttSink(self.edge_config.mqtt, self.edge_config.site.id, self.edge_metrics)
        self.edge = Collector(self.edge_config, [sink], self.clock)
        await self.edge.start()
        log.info("demo: plant %s goes edge -> Mosquitto 127.0.0.1:%d -> central collector",
                 self.plant_id, self.broker.port)

    async def stop_edge(self) -> None:
        """Stop polling and publish what the edge still holds (before the central stops)."""
        if self.edge is not None:
            await self.edge.stop(timeout_s=HANDOVER_S)
            self.edge = None
        deadline = time.monotonic() + 1.0  # the last messages reach the central collector
        while time.monotonic() < deadline:
            await asyncio.sleep(0.1)

    async def stop_broker(self) -> None:
        await asyncio.to_thread(self.broker.stop)

    @property
    def published(self) -> int:
        return int(self.edge_metrics.counters["mqtt_published"])
