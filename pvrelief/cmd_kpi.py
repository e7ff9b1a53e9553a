"""`pvrelief kpi --plant P --month 2020-06`: the national KPIs, printed and written to InfluxDB."""

from __future__ import annotations

import time
from pathlib import Path

import typer

from config.errors import ConfigError


def register(app: typer.Typer) -> None:
    @app.command()
    def kpi(
        config: Path = typer.Option(..., "--config", "-c", envvar="PVRELIEF_CONFIG",
                                    help="the site config (YAML)"),
        plant: list[str] = typer.Option([], "--plant", help="plant id (repeat; default: all)"),
        month: str | None = typer.Option(None, help="a month, e.g. 2020-06: each day and the "
                                                    "month"),
        day: str | None = typer.Option(None, help="one day, e.g. 2020-06-21"),
        lang: str = typer.Option("zh", help="zh or en"),
        write: bool = typer.Option(True, help="also write the kpi points to InfluxDB"),
    ) -> None:
        """Online rate, fault rate, generation capability, O&M timeliness and coverage."""
        from collector.alarms.report import table
        from collector.errors import SinkError
        from config.loader import load_config
        from config.profiles import load_registry
        from influx.errors import QueryError
        from reports.kpi.errors import KpiError
        from reports.kpi.publish import HEADERS, rows
        from reports.kpi.run import compute, open_store, write_points

        if (month is None) == (day is None):
            raise typer.BadParameter("give --month or --day")
        if lang not in HEADERS:
            raise typer.BadParameter("zh or en", param_hint="--lang")
        try:
            cfg = load_config(config)
        except ConfigError as e:
            typer.echo(str(e), err=True)
            raise typer.Exit(2) from None
        store = open_store(cfg)
        if store is None:
            typer.echo(f"no alarm state in {cfg.state_path}: counting no alarms", err=True)
        try:
            results = compute(cfg, load_registry(), month or day or "", plant, time.time_ns(),
                              store)
            for r in results:
                typer.echo(f"\n{r.plant}")
                for line in table(HEADERS[lang], rows(r.all)):
                    typer.echo(line)
            if write:
                n = write_points(cfg, results)
                typer.echo(f"\n{n} kpi points written to {cfg.influxdb.database}")
        except KpiError as e:
            typer.echo(str(e), err=True)
            raise typer.Exit(2) from None
        except (QueryError, SinkError) as e:
            typer.echo(str(e), err=True)
            raise typer.Exit(1) from None
