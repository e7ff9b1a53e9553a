"""`pvrelief demo`: what `make demo` runs."""

from __future__ import annotations

from pathlib import Path

import typer

from pvrelief.cmd_run import load_or_exit
from pvrelief.logs import setup_logging


def register(app: typer.Typer) -> None:
    @app.command()
    def demo(
        config: Path = typer.Option(Path("config/examples/gonghe.yaml"), "--config", "-c"),
        keep_running: bool = typer.Option(
            False, help="after the day, keep fleet, collector and InfluxDB running"),
        verbose: bool = typer.Option(False, "--verbose", "-v"),
    ) -> None:
        """Simulate a day at the demo site through the real collector and InfluxDB."""
        from localsite.demo import run_demo

        setup_logging(verbose)
        raise typer.Exit(run_demo(load_or_exit(config), keep_running=keep_running))
