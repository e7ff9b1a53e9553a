"""Run the long-lived parts (collector, simulator) until a signal or a deadline.

SIGTERM and SIGINT stop polling first, then the sink writes (or spools) what it holds, so a
service manager's stop never loses accepted readings.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from pathlib import Path

from collector.gcpolicy import freeze_settled_heap, freeze_startup_heap
from collector.metrics import Metrics, MetricsServer
from collector.runner import Collector, build_sinks
from config.schema import Config
from simulator.fleet import Fleet
from simulator.mqtt_publisher import SimMqtt
from timebase.clock import Clock

log = logging.getLogger(__name__)


def stop_event_on_signals() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    return stop


async def wait_for(stop: asyncio.Event, duration_s: float | None) -> None:
    if duration_s is None:
        await stop.wait()
    else:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), duration_s)


async def run_collector(cfg: Config, clock: Clock, duration_s: float | None = None,
                        metrics_addr: tuple[str, int] | None = ("127.0.0.1", 9108)) -> None:
    """Poll until SIGTERM/SIGINT (or ``duration_s``); serve /metrics and /healthz meanwhile."""
    stop = stop_event_on_signals()
    metrics = Metrics()
    collector = Collector(cfg, build_sinks(cfg, metrics), clock, on_poll=metrics.device_poll,
                          metrics=metrics)
    server = MetricsServer(metrics, *metrics_addr) if metrics_addr else None
    try:
        if server is not None:
            await server.start()
            log.info("metrics on http://%s:%d/metrics", *metrics_addr)
        await collector.start()
        freeze_startup_heap()
        settle = asyncio.create_task(freeze_settled_heap(collector.settle_after_s))
        try:
            await wait_for(stop, duration_s)
        finally:
            settle.cancel()
    finally:
        try:
            await collector.stop()  # sources first, then the sinks write or spool what they hold
        finally:
            if server is not None:
                await server.close()
    log.info("collector stopped")


async def run_simulator(cfg: Config, clock: Clock, clock_file: Path | None,
                        duration_s: float | None = None) -> Fleet:
    stop = stop_event_on_signals()
    fleet = Fleet(cfg, clock)
    async with fleet, SimMqtt(fleet, cfg, clock):  # plants that push over MQTT, if any
        if clock_file is not None:
            clock.save(clock_file)
        await wait_for(stop, duration_s)
    return fleet
