"""`pvrelief collect` and `pvrelief simulate`: the two long-running processes."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from pathlib import Path

import typer

from collector.shard import parse_shard
from config.errors import ConfigError
from config.loader import load_config
from config.schema import Config
from pvrelief.logs import LOG_FORMAT_HELP, log_format_option, setup_logging
from pvrelief.runtime import run_collector, run_simulator
from timebase.clock import Clock


def load_or_exit(path: Path) -> Config:
    try:
        return load_config(path)
    except ConfigError as e:
        for problem in e.problems:
            typer.echo(problem, err=True)
        raise typer.Exit(2) from None


def register(app: typer.Typer) -> None:
    @app.command()
    def collect(
        config: Path = typer.Option(..., "--config", "-c", help="the pvrelief YAML config"),
        sim_clock: Path | None = typer.Option(
            None, help="stamp readings with the simulator's clock (file from `simulate`)"),
        duration: float | None = typer.Option(None, help="stop after this many real seconds"),
        metrics_host: str = typer.Option("127.0.0.1", help="address of /metrics and /healthz"),
        metrics_port: int = typer.Option(9108, help="port of /metrics and /healthz; 0: off"),
        shard: str | None = typer.Option(
            None, help="i/n: poll only shard i of n (overrides collector.shard)"),
        log_format: str = typer.Option("text", help=LOG_FORMAT_HELP),
        verbose: bool = typer.Option(False, "--verbose", "-v"),
    ) -> None:
        """Poll every configured device and write readings to InfluxDB until SIGTERM."""
        setup_logging(verbose, log_format_option(log_format))
        cfg = load_or_exit(config)
        if shard is not None:
            try:
                parse_shard(shard)
            except ValueError as e:
                raise typer.BadParameter(str(e), param_hint="--shard") from None
            cfg.collector.shard = shard
        clock = Clock.load(sim_clock) if sim_clock else Clock.real()
        addr = (metrics_host, metrics_port) if metrics_port else None
        asyncio.run(run_collector(cfg, clock, duration, addr))

    @app.command()
    def simulate(
        config: Path = typer.Option(..., "--config", "-c", help="the pvrelief YAML config"),
        speed: float | None = typer.Option(None, help="simulated seconds per real second"),
        start: datetime | None = typer.Option(None, help="simulated start, with UTC offset"),
        clock_file: Path = typer.Option(Path("var/sim-clock.json"),
                                        help="where to publish the clock for `collect`"),
        truth: Path | None = typer.Option(None, help="write ground-truth counters here at exit"),
        duration: float | None = typer.Option(None, help="stop after this many real seconds"),
        log_format: str = typer.Option("text", help=LOG_FORMAT_HELP),
        verbose: bool = typer.Option(False, "--verbose", "-v"),
    ) -> None:
        """Serve the configured devices as Modbus TCP servers with simulated physics."""
        setup_logging(verbose, log_format_option(log_format))
        cfg = load_or_exit(config)
        sim = cfg.simulator
        begin = start or sim.start
        if begin is not None and begin.tzinfo is None:
            raise typer.BadParameter("--start needs a UTC offset, e.g. 2020-06-21T00:00+08:00")
        clock = Clock.starting(begin, speed or sim.speed)
        fleet = asyncio.run(run_simulator(cfg, clock, clock_file, duration))
        if truth is not None:
            truth.write_text(json.dumps(fleet.ground_truth(), indent=1, sort_keys=True))
