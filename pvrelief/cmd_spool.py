"""`pvrelief spool status|replay|drop`: look at and act on the InfluxDB sink's on-disk spool.

``status`` only reads, so it works while the collector runs. ``replay`` and ``drop`` take the
spool's lock and refuse while a collector holds it (a running collector replays by itself).
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import typer

from collector.errors import SpoolError
from collector.sinks.spool import Spool
from collector.sinks.spool_files import inspect
from config.errors import ConfigError
from config.influx import InfluxSettings

ConfigOpt = typer.Option(None, "--config", "-c", help="collector config (YAML): influxdb section")
DirOpt = typer.Option(None, "--dir", help="spool folder (default: influxdb.spool_dir of --config)")


def _settings(config: Path | None, directory: Path | None) -> InfluxSettings:
    if config is None:
        if directory is None:
            raise typer.BadParameter("give --config FILE or --dir SPOOL_DIR")
        return InfluxSettings(spool_dir=directory)
    from config.loader import load_config  # the loader pulls in profiles: only when needed

    try:
        s = load_config(config).influxdb
    except ConfigError as e:
        typer.echo(str(e), err=True)
        raise typer.Exit(2) from None
    return s.model_copy(update={"spool_dir": directory}) if directory is not None else s


def status_lines(directory: Path, quarantine: Path) -> list[str]:
    st = inspect(directory)
    if not st.exists:
        return [f"spool {directory}: does not exist (nothing spooled)"]
    quarantined = len(quarantine.read_text().splitlines()) if quarantine.exists() else 0
    owner = "in use by a running collector" if st.in_use else "not in use"
    return [
        f"spool {directory}: {owner}",
        f"  segments: {st.segments}, {st.bytes_on_disk} bytes on disk",
        f"  cursor: segment {st.cursor[0]} offset {st.cursor[1]}",
        f"  undelivered: {st.undelivered_points} points, {st.undelivered_bytes} bytes",
        f"  quarantined lines: {quarantined} ({quarantine})",
    ]


def register(app: typer.Typer) -> None:
    spool_app = typer.Typer(help="The InfluxDB sink's on-disk spool.", no_args_is_help=True)
    app.add_typer(spool_app, name="spool")

    @spool_app.command("status")
    def status(config: Path | None = ConfigOpt, directory: Path | None = DirOpt) -> None:
        """Segments, bytes, undelivered points and quarantined lines."""
        s = _settings(config, directory)
        for line in status_lines(s.spool_dir, s.quarantine_path):
            typer.echo(line)

    @spool_app.command("replay")
    def replay(
        config: Path | None = ConfigOpt,
        directory: Path | None = DirOpt,
        url: str | None = typer.Option(None, help="InfluxDB URL (overrides the config)"),
        database: str | None = typer.Option(None, help="database (overrides the config)"),
        timeout: float = typer.Option(600.0, help="give up after this many seconds"),
    ) -> None:
        """Deliver the spool to InfluxDB now (when no collector is running)."""
        s = _settings(config, directory)
        update = {k: v for k, v in (("url", url), ("database", database)) if v is not None}
        if update:
            s = InfluxSettings.model_validate(s.model_dump() | update)
        try:
            done = asyncio.run(_replay(s, timeout))
        except SpoolError as e:
            typer.echo(f"{e}; the running collector replays it itself", err=True)
            raise typer.Exit(2) from None
        if not done:
            typer.echo(f"not all delivered within {timeout:.0f} s; the rest stays in "
                       f"{s.spool_dir}", err=True)
            raise typer.Exit(1)
        typer.echo(f"spool {s.spool_dir}: all delivered")

    @spool_app.command("drop")
    def drop(
        config: Path | None = ConfigOpt,
        directory: Path | None = DirOpt,
        yes: bool = typer.Option(False, "--yes", help="really delete undelivered data"),
    ) -> None:
        """Delete every undelivered record (they never reach InfluxDB)."""
        s = _settings(config, directory)
        if not yes:
            typer.echo("this deletes undelivered readings; add --yes", err=True)
            raise typer.Exit(2)
        spool = Spool(s.spool_dir, max_bytes=s.spool_max_bytes,
                      segment_bytes=s.spool_segment_bytes, fsync=s.fsync)
        try:
            spool.open()
        except SpoolError as e:
            typer.echo(str(e), err=True)
            raise typer.Exit(2) from None
        try:
            points = spool.drop_all()
        finally:
            spool.close()
        typer.echo(f"spool {s.spool_dir}: dropped {points} undelivered points")


async def _replay(settings: InfluxSettings, timeout: float) -> bool:
    from collector.sinks.influx import InfluxSink

    async with InfluxSink(settings.model_copy(update={"close_timeout_s": 0})) as sink:
        deadline = time.monotonic() + timeout
        while not sink.caught_up:
            if time.monotonic() > deadline:
                return False
            await asyncio.sleep(0.1)
    return True
