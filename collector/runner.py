"""The collector: config -> sources -> stages -> sinks, and nothing else.

    ModbusSource --emit--> Pipeline: CounterStage -> (alarms) --> InfluxSink (and more sinks)

``Collector`` owns the lifecycle: sinks start first and close last, so nothing a source
emits finds a sink that is not ready, and a stop never loses what was accepted. A new source,
stage or sink is built from the config here, and nowhere else.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import Sequence

from collector.metrics import Metrics
from collector.pipeline.counters import CounterStage, device_ratings
from collector.pipeline.stages import Pipeline, Stage
from collector.sinks.base import Sink
from collector.sinks.influx import InfluxSink
from collector.sources.base import Emit, Source
from collector.sources.modbus.bus_plan import BusPlan
from collector.sources.modbus.source import ModbusSource
from collector.sources.polling import STOP_TIMEOUT_S, DevicePoller, PolledSource, PollHook
from collector.sources.shard import parse_shard
from config.influx import InfluxSettings
from config.profiles import ProfileRegistry, load_registry
from config.schema import Config
from timebase.clock import Clock

log = logging.getLogger(__name__)


def build_sources(config: Config, registry: ProfileRegistry, clock: Clock, emit: Emit,
                  on_poll: PollHook | None = None) -> list[Source]:
    return [ModbusSource(config, registry, clock, emit, on_poll)]


def build_stages(config: Config, registry: ProfileRegistry) -> list[Stage]:
    return [CounterStage(device_ratings(config, registry))]


def build_sinks(config: Config, metrics: Metrics) -> list[Sink]:
    return [InfluxSink(shard_influx_settings(config), metrics)]


def shard_influx_settings(config: Config) -> InfluxSettings:
    """A shard's spool lives in a folder of its own: the shards of one config never share one
    (a spool is locked by the process that writes it)."""
    settings, shard = config.influxdb, config.collector.shard
    if shard is None:
        return settings
    i, n = parse_shard(shard)
    return settings.model_copy(update={"spool_dir": settings.spool_dir / f"shard-{i}-of-{n}"})


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


# net allocations between young collections (Python's default: 700); 10,000 or more made each
# one a stall of a tenth of a second at 20,000 devices
GC_YOUNG_THRESHOLD = 2_000


def freeze_startup_heap() -> None:
    """Exempt what start-up built (config, pollers, decoders, tasks) from garbage collection.

    It lives as long as the process, yet Python's collector re-scans it at every full
    collection, and readings waiting in the sink's batch keep triggering those: with 20,000
    devices that took half of the collector's CPU. ``gc.freeze()`` moves every object alive
    now to a permanent generation that collections skip. For a long-lived process after its
    start (``pvrelief collect``), not for code that builds and drops collectors (tests).
    """
    gc.freeze()  # no gc.collect() first: start-up's garbage is freed by reference counting,
    # and a full collection of 20,000 devices' objects would lengthen the start
    # and collect less often: what a poll allocates is freed by reference counting (readings,
    # answers, dicts hold no cycles), so frequent young collections find next to nothing
    gc.set_threshold(GC_YOUNG_THRESHOLD, 20, 20)


class Collector:
    """Sources feeding one pipeline. ``sinks`` are started and closed by the collector."""

    def __init__(self, config: Config, sinks: Sequence[Sink], clock: Clock | None = None,
                 registry: ProfileRegistry | None = None,
                 on_poll: PollHook | None = None, metrics: Metrics | None = None) -> None:
        registry = registry or load_registry()
        self.clock = clock or Clock.real()
        self.pipeline = Pipeline(build_stages(config, registry), sinks)
        self.sources = build_sources(config, registry, self.clock, self.pipeline.put, on_poll)
        self._started: list[Sink] = []
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

    async def start(self) -> None:
        try:
            for sink in self.pipeline.sinks:
                await sink.start()
                self._started.append(sink)
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
