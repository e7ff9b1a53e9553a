"""The collector: config -> sources -> stages -> sinks, and nothing else.

    ModbusSource, Dlt645Source, MqttSource --emit--> Pipeline: plausibility -> counters ->
        alarms --> InfluxSink, MqttSink

``Collector`` owns the lifecycle: sinks start first and close last, so nothing a source
emits finds a sink that is not ready, and a stop never loses what was accepted. A new source,
stage or sink is built from the config here, and nowhere else.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence

from collector.alarms.stage import AlarmStage
from collector.batching import PollBatcher
from collector.gcpolicy import settle_after_s
from collector.metrics import Metrics
from collector.pipeline.counters import CounterStage, Rating, device_ratings
from collector.pipeline.plausibility import PlausibilityStage
from collector.pipeline.stages import Pipeline, RunningStage, Stage
from collector.shard import shard_config
from collector.sinks.base import Sink
from collector.sinks.influx import InfluxSink
from collector.sinks.mqtt import MqttSink
from collector.sources.base import Emit, Source
from collector.sources.dlt645.source import Dlt645Source, has_dlt645
from collector.sources.modbus.bus_plan import BusPlan
from collector.sources.modbus.source import ModbusSource
from collector.sources.mqtt.source import MqttSource
from collector.sources.polling import STOP_TIMEOUT_S, DevicePoller, PolledSource, PollHook
from config.profiles import ProfileRegistry, load_registry
from config.schema import Config
from timebase.clock import Clock

log = logging.getLogger(__name__)


def build_sources(config: Config, registry: ProfileRegistry, clock: Clock, emit: Emit,
                  on_poll: PollHook | None = None, metrics: Metrics | None = None,
                  flush: Callable[[], None] | None = None,
                  polled: Emit | None = None) -> list[Source]:
    """``polled``: what the polled sources emit to (a PollBatcher), ``emit`` when None; the
    MQTT source always emits directly, as it acknowledges a message once it is on disk."""
    polled = polled or emit
    sources: list[Source] = [ModbusSource(config, registry, clock, polled, on_poll)]
    if has_dlt645(config):
        sources.append(Dlt645Source(config, clock, polled, on_poll))
    if config.mqtt.subscriptions:  # readings pushed by edges and loggers
        sources.append(MqttSource(config, registry, clock, emit, on_poll, metrics,
                                  flush=flush))
    return sources


def poll_intervals_s(config: Config) -> list[float]:
    """Every polled device's interval (Modbus devices and DL/T 645 meters), in config time."""
    return [*(d.poll_interval_s for _, d in config.devices()),
            *(m.poll_interval_s for p in config.plants() for g in p.dlt645_gateways
              for m in g.meters)]


def batch_window_s(configured_s: float, intervals_real_s: list[float]) -> float:
    """The configured window, at most a quarter of the shortest poll interval in real seconds
    (a simulated clock runs fast: at 1,440x, 250 ms would be six simulated minutes)."""
    return min(configured_s, min(intervals_real_s, default=math.inf) / 4)


def build_stages(config: Config, registry: ProfileRegistry,
                 ratings: dict[str, Rating] | None = None) -> list[Stage]:
    """The stages in their order: plausibility, the counter guard, alarms."""
    ratings = device_ratings(config, registry) if ratings is None else ratings
    counters = CounterStage(ratings)
    stages: list[Stage] = [PlausibilityStage(ratings), counters]
    if config.alarms.enabled:
        stages.append(AlarmStage(config, registry, counters))
    return stages


def build_sinks(config: Config, metrics: Metrics) -> list[Sink]:
    publish = config.mqtt.publish  # the edge's MQTT sink: beside the InfluxDB sink or instead
    config = shard_config(config)  # a shard spools in a folder of its own
    sinks: list[Sink] = []
    if publish is None or publish.with_influxdb:
        sinks.append(InfluxSink(config.influxdb, metrics))
    if publish is not None:
        sinks.append(MqttSink(config.mqtt, config.site.id, metrics))
    return sinks


def report_buses(metrics: Metrics, plans: Sequence[BusPlan]) -> None:
    """Each RS485 bus's utilisation: what its schedule asks, and the time its polls took."""
    if not plans:
        return
    metrics.add_family(
        "bus_planned_utilisation", "gauge",
        "share of the RS485 bus the configured intervals ask for (over 1: they cannot fit)",
        lambda: [(f'gateway="{p.gateway}"', p.demand) for p in plans])
    metrics.add_family(
        "bus_busy_seconds_total", "counter",
        "seconds the gateway's bus spent on our requests (its rate is the utilisation)",
        lambda: [(f'gateway="{p.gateway}"', p.endpoint.busy_s) for p in plans])


class Collector:
    """Sources feeding one pipeline. ``sinks`` are started and closed by the collector."""

    def __init__(self, config: Config, sinks: Sequence[Sink], clock: Clock | None = None,
                 registry: ProfileRegistry | None = None,
                 on_poll: PollHook | None = None, metrics: Metrics | None = None) -> None:
        registry = registry or load_registry()
        self.clock = clock or Clock.real()
        own = shard_config(config)  # the devices this process polls (all, unsharded)
        if own is not config:
            log.info("shard %s: %d of %d devices", config.collector.shard, len(own.devices()),
                     len(config.devices()))
        # ratings from the whole fleet: an inverter's share of its plant counts every inverter
        self.pipeline = Pipeline(build_stages(own, registry, device_ratings(config, registry)),
                                 sinks)
        intervals = [self.clock.real_seconds(i) for i in poll_intervals_s(own)]
        self.batcher = PollBatcher(self.pipeline.put,
                                   batch_window_s(own.collector.batch_window_s, intervals))
        # when every device has been polled once (pvrelief collect freezes the heap again)
        self.settle_after_s = settle_after_s(intervals)
        self.sources = build_sources(own, registry, self.clock, self.pipeline.put, on_poll,
                                     metrics, self.pipeline.flush, self.batcher)
        self._started: list[Sink] = []
        self._running: list[RunningStage] = []
        if metrics is not None:
            report_buses(metrics, self.bus_plans)

    @property
    def bus_plans(self) -> list[BusPlan]:
        """The plan of every RS485 gateway this collector polls."""
        return [b for s in self.sources if isinstance(s, ModbusSource) for b in s.bus_plans]

    @property
    def pollers(self) -> list[DevicePoller]:
        """Every device poller of every polled source."""
        return [p for s in self.sources if isinstance(s, PolledSource) for p in s.pollers]

    @property
    def counters(self) -> CounterStage:
        stage = self.pipeline.stage("counters")
        assert isinstance(stage, CounterStage)
        return stage

    @property
    def alarms(self) -> AlarmStage:
        stage = self.pipeline.stage("alarms")
        assert isinstance(stage, AlarmStage)
        return stage

    async def start(self) -> None:
        try:
            for sink in self.pipeline.sinks:
                await sink.start()
                self._started.append(sink)
            for stage in self.pipeline.stages:
                if isinstance(stage, RunningStage):
                    await stage.start(self.pipeline, self.clock)
                    self._running.append(stage)
            for source in self.sources:
                await source.start()
        except BaseException:
            await self.stop()
            raise

    async def stop(self, timeout_s: float = STOP_TIMEOUT_S) -> None:
        """Stop every source (bounded), then close the sinks: each step runs, whatever fails."""
        first: BaseException | None = None
        for source in self.sources:
            try:
                await source.stop(timeout_s)
            except Exception as e:
                log.error("stopping source %s failed: %r", source.name, e)
                first = first or e
        try:  # what the pollers read last goes through before the stages and sinks stop
            await self.batcher.close()
        except Exception as e:
            log.error("putting the last polled readings through failed: %r", e)
            first = first or e
        while self._running:  # their last readings still find the sinks open
            stage = self._running.pop()
            try:
                await stage.stop()
            except Exception as e:
                log.error("stopping stage %s failed: %r", stage.name, e)
                first = first or e
        while self._started:
            sink = self._started.pop()
            try:
                await sink.close()  # writes or spools everything accepted
            except Exception as e:
                log.error("closing sink %r failed: %r", sink, e)
                first = first or e
        if first is not None:
            raise first

    async def __aenter__(self) -> Collector:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()
