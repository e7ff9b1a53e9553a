"""``pvrelief web`` (the page for technicians and finance staff) and ``pvrelief users``."""

from __future__ import annotations

import getpass
import sys
from pathlib import Path

import typer

from pvrelief.logs import LOG_FORMAT_HELP, log_format_option, setup_logging

users = typer.Typer(help="Accounts of the web page (stored in the state database).",
                    no_args_is_help=True)


def _accounts(config: Path):  # type: ignore[no-untyped-def]
    from config.errors import ConfigError
    from config.loader import load_config
    from statedb.db import connect
    from statedb.errors import StateError
    from web.accounts import Accounts

    try:
        cfg = load_config(config)
    except ConfigError as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(2) from e
    try:
        return Accounts(connect(cfg.state_path))
    except StateError as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(2) from e


def _password(stdin: bool) -> str:
    if stdin or not sys.stdin.isatty():
        line = sys.stdin.readline()
        return line.rstrip("\r\n")
    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        typer.echo("error: the two passwords differ", err=True)
        raise typer.Exit(2)
    return first


@users.command("add")
def add(name: str = typer.Argument(..., help="user name: lowercase letters, digits, . _ -"),
        role: str = typer.Option(..., "--role", help="technician, finance or admin"),
        config: Path = typer.Option(..., "--config", help="the site config (its state folder)"),
        password_stdin: bool = typer.Option(False, "--password-stdin",
                                            help="read the password from standard input")
        ) -> None:
    """Create an account; the password is asked for (or read from stdin), never an option."""
    from web.errors import AccountError

    accounts = _accounts(config)
    try:
        accounts.add(name, role, _password(password_stdin))
    except AccountError as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(2) from e
    typer.echo(f"user {name} ({role}) added")


@users.command("passwd")
def passwd(name: str = typer.Argument(...),
           config: Path = typer.Option(..., "--config"),
           password_stdin: bool = typer.Option(False, "--password-stdin")) -> None:
    """Set a new password; the user's open sessions end."""
    from web.errors import AccountError

    accounts = _accounts(config)
    try:
        accounts.set_password(name, _password(password_stdin))
    except AccountError as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(2) from e
    typer.echo(f"password of {name} changed; its sessions ended")


@users.command("disable")
def disable(name: str = typer.Argument(...), config: Path = typer.Option(..., "--config"),
            enable: bool = typer.Option(False, "--enable", help="enable it again")) -> None:
    """Disable an account (its sessions end at once), or enable it again."""
    from web.errors import AccountError

    try:
        _accounts(config).set_disabled(name, not enable)
    except AccountError as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(2) from e
    typer.echo(f"user {name} {'enabled' if enable else 'disabled'}")


@users.command("list")
def list_users(config: Path = typer.Option(..., "--config")) -> None:
    """Every account: name, role, and whether it is disabled."""
    for u in _accounts(config).users():
        typer.echo(f"{u.name}\t{u.role}" + ("\tdisabled" if u.disabled else ""))


def register(app: typer.Typer) -> None:
    app.add_typer(users, name="users")

    @app.command("web")
    def web_cmd(
        config: Path = typer.Option(..., "--config", help="the site config (web: section)"),
        host: str | None = typer.Option(None, "--host", help="default: web.host (127.0.0.1)"),
        port: int | None = typer.Option(None, "--port", help="default: web.port (8080)"),
        sim_clock: Path | None = typer.Option(
            None, "--sim-clock", help="the simulator's clock file (demo and tests)"),
        log_format: str = typer.Option("text", help=LOG_FORMAT_HELP),
    ) -> None:
        """Serve the web page for technicians and finance staff (behind a TLS proxy)."""
        from config.errors import ConfigError
        from web.server import serve

        # uvicorn's own records (start-up, one per request) go through these handlers too
        setup_logging(False, log_format_option(log_format))
        try:
            serve(config, host, port, sim_clock)
        except ConfigError as e:
            typer.echo(f"error: {e}", err=True)
            raise typer.Exit(2) from e
