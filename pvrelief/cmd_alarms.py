"""`pvrelief alarms list|ack|show`: the technicians' view of the alarm state database.

Reads the state folder of ``--config`` (``state_dir``); an acknowledgement is written there
and a running collector publishes it (InfluxDB, MQTT, notifications) within a second.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from config.errors import ConfigError
from config.schema import Config

if TYPE_CHECKING:
    from collector.alarms.store import AlarmStore

ConfigOpt = typer.Option(..., "--config", "-c", envvar="PVRELIEF_CONFIG",
                         help="the site config (YAML): its state_dir and influxdb")
LangOpt = typer.Option("zh", "--lang", help="zh or en")


def _config(path: Path) -> Config:
    from config.loader import load_config

    try:
        return load_config(path)
    except ConfigError as e:
        typer.echo(str(e), err=True)
        raise typer.Exit(2) from None


def _lang(lang: str) -> str:
    if lang not in ("zh", "en"):
        raise typer.BadParameter("zh or en", param_hint="--lang")
    return lang


def register(app: typer.Typer) -> None:
    alarms = typer.Typer(help="Alarms for field technicians.", no_args_is_help=True)
    app.add_typer(alarms, name="alarms")

    @alarms.command("list")
    def list_(config: Path = ConfigOpt,
              plant: str | None = typer.Option(None, help="only this plant"),
              severity: str | None = typer.Option(None, help="major, minor or warning"),
              active: bool = typer.Option(False, "--active", help="only those still on"),
              lang: str = LangOpt,
              limit: int = typer.Option(100, help="newest first, at most this many")) -> None:
        """Alarms, newest first."""
        from collector.alarms.report import HEADERS, Clocks, list_rows, table

        cfg, lang = _config(config), _lang(lang)
        store = _store(cfg)
        found = store.query(plant=plant, severity=severity, active=active, limit=limit)
        if not found:
            typer.echo("没有告警" if lang == "zh" else "no alarms")
            return
        rows = list_rows(found, lang, Clocks(cfg), time.time_ns())
        for line in table(HEADERS[lang], rows):
            typer.echo(line)

    @alarms.command("ack")
    def ack(alarm_id: int = typer.Argument(..., metavar="ID"), config: Path = ConfigOpt,
            by: str = typer.Option(..., "--by", help="who takes it"),
            note: str = typer.Option("", "--note", help="what you will do, when")) -> None:
        """Acknowledge an alarm: you take it."""
        from collector.alarms.errors import AckRefused

        store = _store(_config(config))
        try:
            a = store.acknowledge(alarm_id, by, note)
        except AckRefused as e:
            typer.echo(str(e), err=True)
            raise typer.Exit(1) from None
        typer.echo(f"#{a.id} {a.definition.name_zh} ({a.device}): acknowledged by {by}")

    @alarms.command("show")
    def show(alarm_id: int = typer.Argument(..., metavar="ID"), config: Path = ConfigOpt,
             lang: str = LangOpt,
             readings: bool = typer.Option(True, help="the readings around it (InfluxDB)")
             ) -> None:
        """One alarm: its history and the device's readings around it."""
        from collector.alarms.errors import AckRefused
        from collector.alarms.fleet import fleet_info
        from collector.alarms.report import (
            Clocks,
            alarm_fields,
            history_lines,
            readings_around,
            table,
        )
        from config.profiles import load_registry
        from influx.errors import QueryError
        from influx.query import InfluxReader

        cfg, lang = _config(config), _lang(lang)
        store = _store(cfg)
        try:
            a = store.get(alarm_id)
        except AckRefused as e:
            typer.echo(str(e), err=True)
            raise typer.Exit(1) from None
        clocks = Clocks(cfg)
        for line in history_lines(a, store.history(alarm_id), lang, clocks):
            typer.echo(line)
        device = fleet_info(cfg, load_registry()).devices.get(a.device)
        if not readings or device is None:
            return  # a plant-wide or site alarm has no device readings
        try:
            with InfluxReader(cfg.influxdb) as reader:
                got = readings_around(reader, a, device.kind, alarm_fields(a, cfg), clocks)
        except QueryError as e:
            typer.echo(f"readings: {e}", err=True)
            raise typer.Exit(1) from None
        typer.echo("")
        for line in table(got.columns, got.rows):
            typer.echo(line)


def _store(cfg: Config) -> AlarmStore:
    from collector.alarms.store import AlarmStore
    from statedb.errors import StateError

    try:
        return AlarmStore(cfg.state_path, create=False)
    except StateError as e:
        typer.echo(str(e), err=True)
        raise typer.Exit(2) from None
