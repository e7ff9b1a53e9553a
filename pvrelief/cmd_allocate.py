"""``pvrelief allocate``: split each plant's revenue among its villages, exactly to the fen."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer


def register(app: typer.Typer) -> None:
    @app.command("allocate")
    def allocate_cmd(
        config: Path = typer.Option(..., "--config", help="allocation YAML (or main config)"),
        period: str = typer.Option(..., "--period", help="2020-06, 2020Q2 or 2020"),
        out: Path = typer.Option(..., "--out", help="folder for the CSV/XLSX/JSON results"),
        energy_csv: Path | None = typer.Option(None, "--energy-csv",
                                               help="daily energy: date,plant_id,kwh"),
        influx_config: Path | None = typer.Option(
            None, "--influx-config",
            help="take InfluxDB settings from this file's influxdb: section (the collector's "
                 "config): read meters, write revenue"),
        influx_url: str | None = typer.Option(None, "--influx-url",
                                              help="InfluxDB URL (influxdb.url)"),
        influx_db: str | None = typer.Option(None, "--influx-db",
                                             help="InfluxDB database (influxdb.database)"),
        influx_username: str | None = typer.Option(None, "--influx-username",
                                                   help="influxdb.username"),
        influx_password_env: str | None = typer.Option(
            None, "--influx-password-env", help="influxdb.password from this env variable"),
        influx_password_file: Path | None = typer.Option(
            None, "--influx-password-file", help="influxdb.password from this file"),
        influx_token_env: str | None = typer.Option(
            None, "--influx-token-env", help="influxdb.token from this env variable"),
        influx_token_file: Path | None = typer.Option(
            None, "--influx-token-file", help="influxdb.token from this file"),
        carry_in: Path | None = typer.Option(
            None, "--carry-in", help="previous period's allocation.json (unpaid deductions)"),
        provisional: bool = typer.Option(
            False, "--provisional",
            help="allow a period that has not ended yet; every file is marked provisional"),
        ledger_in: Path | None = typer.Option(
            None, "--ledger-in", help="previous period's ledger.json (the villages' ledger)"),
        payments: Path | None = typer.Option(
            None, "--payments", help="payments received: received,plant_id,part,amount_yuan,"
                                     "periods,reference"),
        grid_statement: Path | None = typer.Option(
            None, "--grid-statement",
            help="grid company's statement to reconcile: plant_id,period,kwh,amount_yuan"),
        threshold: str = typer.Option(
            "0.5", "--reconcile-threshold", help="flag differences above this percent"),
        notices: bool = typer.Option(
            False, "--notices", help="the public notice (公示) per village, HTML and PDF"),
        notice_template: Path | None = typer.Option(
            None, "--notice-template", help="a county's own Jinja2 notice template"),
    ) -> None:
        """Allocate plant revenue to villages for one period (month, quarter or year)."""
        from decimal import Decimal, InvalidOperation

        from allocator.errors import AllocatorError
        from allocator.pipeline import FinanceInputs, run
        from config.errors import ConfigError
        from config.influx import load_influx_section

        try:
            percent = Decimal(threshold)
        except InvalidOperation:
            raise typer.BadParameter(f"--reconcile-threshold {threshold!r} is not a "
                                     f"number") from None
        finance = FinanceInputs(ledger_in, payments, grid_statement, percent, notices,
                                notice_template)

        given: dict[str, tuple[str, Any]] = {}
        for key, option, value in (
            ("url", "--influx-url", influx_url),
            ("database", "--influx-db", influx_db),
            ("username", "--influx-username", influx_username),
            ("password", "--influx-password-env", influx_password_env and
             {"env": influx_password_env}),
            ("password", "--influx-password-file", influx_password_file and
             {"file": str(influx_password_file.resolve())}),
            ("token", "--influx-token-env", influx_token_env and {"env": influx_token_env}),
            ("token", "--influx-token-file", influx_token_file and
             {"file": str(influx_token_file.resolve())}),
        ):
            if value:
                if key in given:
                    raise typer.BadParameter(f"{given[key][0]} and {option} both set {key}")
                given[key] = (option, value)
        if influx_config is None and given and not (influx_url and influx_db):
            raise typer.BadParameter("without --influx-config, give --influx-url and "
                                     "--influx-db together")
        try:
            influx = (load_influx_section(influx_config, given)
                      if influx_config is not None or given else None)
            result = run(config, period, out, energy_csv, influx, carry_in, provisional,
                         finance=finance)
        except (AllocatorError, ConfigError) as e:
            typer.echo(f"error: {e}", err=True)
            raise typer.Exit(2) from e
        typer.echo(
            f"{result.period.label}: {len(result.plant_ids)} plants, "
            f"{result.pair_plant.size} plant-village rows, "
            f"net {int(result.net_fen.sum()) / 100:,.2f} yuan -> {out}"
        )
