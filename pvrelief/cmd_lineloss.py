"""`pvrelief line-loss`: inverter energy against the settlement meter, per plant and period."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import typer
from rich.console import Console

from config.errors import ConfigError
from config.loader import load_config
from config.profiles import load_registry
from reports.errors import ReportError
from reports.influx_counters import InfluxCounters
from reports.line_loss import line_loss
from reports.render import loss_table, write_csv


def register(app: typer.Typer) -> None:
    @app.command("line-loss")
    def line_loss_cmd(
        config: Path = typer.Option(..., "--config", "-c", help="the YAML config file"),
        first: str = typer.Option(..., "--from", help="first local day, YYYY-MM-DD"),
        last: str = typer.Option("", "--to", help="last local day (default: --from)"),
        period: str = typer.Option("day", help="day or month"),
        max_loss_pct: float = typer.Option(5.0, help="flag a loss above this percentage"),
        plant: list[str] = typer.Option([], help="only this plant (repeatable)"),
        out_csv: Path | None = typer.Option(None, "--csv", help="also write the rows here"),
    ) -> None:
        """Sum of inverter energy against settlement-meter energy (kWh, %), from InfluxDB."""
        err = Console(stderr=True)
        try:
            cfg = load_config(config, registry := load_registry())
            start = date.fromisoformat(first)
            end = date.fromisoformat(last) if last else start
            if period not in ("day", "month"):
                raise ValueError(f"--period {period!r}: day or month")
        except ConfigError as e:
            for problem in e.problems or [str(e)]:
                err.print(problem, markup=False, highlight=False)
            raise typer.Exit(2) from None
        except ValueError as e:
            err.print(f"line-loss: {e}", markup=False)
            raise typer.Exit(2) from None
        counters = InfluxCounters(cfg.influxdb)
        try:
            rows = line_loss(cfg, registry, counters, start, end,
                             "day" if period == "day" else "month", max_loss_pct,
                             plant or None)
        except ReportError as e:
            err.print(f"line-loss: {e}", markup=False)
            raise typer.Exit(1) from None
        finally:
            counters.close()
        Console().print(loss_table(rows, max_loss_pct))
        if out_csv is not None:
            write_csv(rows, out_csv)
