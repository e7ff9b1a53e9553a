"""`pvrelief check-config`: validate a config file and say exactly what is wrong."""

from __future__ import annotations

from pathlib import Path

import typer

from config.errors import ConfigError
from config.loader import load_config


def register(app: typer.Typer) -> None:
    @app.command("check-config")
    def check_config(
        file: Path = typer.Argument(..., help="the YAML config to validate"),
    ) -> None:
        """Validate FILE; print each problem as file:line: field (owner): message."""
        try:
            cfg = load_config(file)
        except ConfigError as e:
            for problem in e.problems:
                typer.echo(problem, err=True)
            raise typer.Exit(2) from None
        devices = cfg.devices()
        typer.echo(f"{file}: OK: {len(cfg.plants())} plants, {len(devices)} devices")
