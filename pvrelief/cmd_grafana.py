"""`pvrelief grafana build|push`: write the dashboard JSON, or send it to a Grafana server."""

from __future__ import annotations

from pathlib import Path

import httpx
import typer

from grafana.dashboards import DASHBOARD_DIR, dashboards, write
from grafana.push import push_request


def _token(token: str | None, token_file: Path | None) -> str | None:
    if token and token_file:
        raise typer.BadParameter("give --token or --token-file, not both")
    if token_file:
        return token_file.read_text(encoding="utf-8").strip()
    return token


def register(app: typer.Typer) -> None:
    grafana = typer.Typer(help="Grafana dashboards for operators, technicians and finance.",
                          no_args_is_help=True)
    app.add_typer(grafana, name="grafana")

    @grafana.command()
    def build(out: Path = typer.Option(DASHBOARD_DIR, help="folder to write the JSON to")) -> None:
        """Write the dashboards' JSON (checked in under grafana/dashboards/)."""
        for path in write(out):
            typer.echo(path)

    @grafana.command()
    def push(
        url: str = typer.Option(..., help="Grafana base URL, e.g. http://grafana:3000"),
        token: str | None = typer.Option(None, help="service account token"),
        token_file: Path | None = typer.Option(None, help="file holding the token"),
        timeout: float = typer.Option(30.0, help="seconds per request"),
    ) -> None:
        """Create or replace each dashboard on a Grafana server (POST /api/dashboards/db)."""
        secret = _token(token, token_file)
        failed = 0
        with httpx.Client(timeout=timeout) as client:
            for name, model in dashboards().items():
                try:
                    r = client.send(push_request(url, model, secret))
                except httpx.HTTPError as e:
                    typer.echo(f"{name}: {e}", err=True)
                    failed += 1
                    continue
                if r.status_code != 200:
                    typer.echo(f"{name}: {r.status_code} {r.text}", err=True)
                    failed += 1
                else:
                    typer.echo(f"{name}: {r.json().get('url', 'ok')}")
        if failed:
            raise typer.Exit(1)
