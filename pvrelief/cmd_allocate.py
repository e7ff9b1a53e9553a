"""``pvrelief allocate``: split each plant's revenue among its villages, exactly to the fen."""

from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    @app.command("allocate")
    def allocate_cmd(
        config: Path = typer.Option(..., "--config", help="allocation YAML (or main config)"),
        period: str = typer.Option(..., "--period", help="2020-06, 2020Q2 or 2020"),
        out: Path = typer.Option(..., "--out", help="folder for the CSV/XLSX/JSON results"),
        energy_csv: Path | None = typer.Option(None, "--energy-csv",
                                               help="daily energy: date,plant_id,kwh"),
        influx_url: str | None = typer.Option(None, "--influx-url",
                                              help="InfluxDB 1.x URL: read meters, write revenue"),
        influx_db: str | None = typer.Option(None, "--influx-db", help="InfluxDB database"),
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
        from allocator.pipeline import FinanceInputs, InfluxTarget, run

        try:
            percent = Decimal(threshold)
        except InvalidOperation:
            raise typer.BadParameter(f"--reconcile-threshold {threshold!r} is not a "
                                     f"number") from None
        finance = FinanceInputs(ledger_in, payments, grid_statement, percent, notices,
                                notice_template)

        if (influx_url is None) != (influx_db is None):
            raise typer.BadParameter("--influx-url and --influx-db go together")
        target = InfluxTarget(influx_url, influx_db) if influx_url and influx_db else None
        try:
            result = run(config, period, out, energy_csv, target, carry_in, provisional,
                         finance=finance)
        except AllocatorError as e:
            typer.echo(f"error: {e}", err=True)
            raise typer.Exit(2) from e
        typer.echo(
            f"{result.period.label}: {len(result.plant_ids)} plants, "
            f"{result.pair_plant.size} plant-village rows, "
            f"net {int(result.net_fen.sum()) / 100:,.2f} yuan -> {out}"
        )
