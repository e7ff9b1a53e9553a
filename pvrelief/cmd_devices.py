"""`pvrelief scan` (what answers on a gateway) and `pvrelief plan` (one device's read plan)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from collector.errors import SourceError
from collector.sources.dlt645.scan import BusScan, scan_gateway
from collector.sources.modbus.decode import DeviceDecoder
from collector.sources.modbus.scan import ScanResult, parse_units, scan_target
from config.dlt645_schema import BITS_PER_BYTE, Dlt645Gateway, Dlt645Meter
from config.dlt645_schema import catalog as dlt645_catalog
from config.errors import ConfigError
from config.loader import load_config
from config.profiles import load_registry


def parse_target(target: str) -> tuple[str, int]:
    """'host', 'host:port' or '[v6]:port' -> (host, port); the Modbus TCP port is 502."""
    if target.startswith("["):
        host, _, rest = target[1:].partition("]")
        return host, int(rest.lstrip(":") or 502)
    host, sep, port = target.rpartition(":")
    if not sep or ":" in host:
        return target, 502
    return host, int(port)


def scan_table(target: str, results: list[ScanResult]) -> Table:
    table = Table(title=f"Modbus units answering at {target}")
    for col in ("unit", "profile", "identified by", "serial"):
        table.add_column(col)
    for r in results:
        table.add_row(str(r.unit), r.profile or "[yellow]unknown[/]", r.detail, r.serial or "")
    return table


def meters_table(target: str, found: BusScan) -> Table:
    table = Table(title=f"DL/T 645 meters answering at {target}",
                  caption=f"{found.probes} probes; energies as the meters count them "
                          "(secondary side: times CT x PT for primary)")
    for col in ("address", "found by", "forward kWh", "reverse kWh", "CT", "PT", "clock"):
        table.add_column(col)

    def num(v: float | None) -> str:
        return "" if v is None else f"{v:,.2f}"

    for m in found.meters:
        table.add_row(m.address, m.found_by, num(m.forward_kwh), num(m.reverse_kwh),
                      "" if m.ct_ratio is None else f"{m.ct_ratio:g}",
                      "" if m.pt_ratio is None else f"{m.pt_ratio:g}",
                      "" if m.clock is None else f"{m.clock:%Y-%m-%d %H:%M:%S}")
    return table


def dlt645_plan_table(gateway: Dlt645Gateway, meter: Dlt645Meter) -> Table:
    """The requests one poll of a DL/T 645 meter makes, and their time on the wire."""
    catalog = dlt645_catalog()
    dis = meter.poll_identifiers()
    rows, total = [], 0
    for di in dis:
        ident = catalog.identifiers[di]
        members = [catalog.identifiers[m] for m in ident.members] or [ident]
        # request: preamble + 12 framing bytes + 4 DI bytes; answer: 12 + 4 + the values
        wire = gateway.preamble + 16 + 16 + ident.size * len(members)
        total += wire
        rows.append((ident.text, ident.name, ", ".join(m.field or m.name for m in members),
                     wire))
    secs = gateway.wire_time_s(total)
    table = Table(title=f"Read plan of {meter.id} (DL/T 645 meter {meter.address} on "
                        f"{gateway.id}): {len(dis)} requests per poll",
                  caption=f"{total} bytes, {secs:.2f} s on the wire at {gateway.baud} baud "
                          f"{gateway.framing}, plus each answer's turnaround and "
                          f"{gateway.pause_between_requests_s:g} s between requests")
    for col in ("#", "DI3 DI2 DI1 DI0", "what", "fields (the meter's terms)", "bytes"):
        table.add_column(col, justify="right" if col in ("#", "bytes") else "left")
    for i, (text, name, fields, wire) in enumerate(rows, 1):
        table.add_row(str(i), text, name, fields, str(wire))
    return table


def plan_table(device_id: str, decoder: DeviceDecoder) -> Table:
    profile = decoder.profile
    offset = profile.address_offset
    n = len(decoder.reads)
    title = f"Read plan of {device_id} ({profile.name}): {n} read{'' if n == 1 else 's'} per poll"
    limits = f"reads of at most {decoder.max_count} registers, gaps of at most {decoder.max_hole}"
    table = Table(title=title, caption=f"document: {profile.document}\n{limits}")
    table.add_column("#", justify="right")
    table.add_column("function")
    table.add_column("address", justify="right")
    table.add_column("count", justify="right")
    table.add_column("points (document address)")
    for i, (r, points) in enumerate(zip(decoder.reads, decoder.covers, strict=True), 1):
        names = ", ".join(
            f"{p.field or p.name}@{profile.document_address(p.address)}"
            for p in sorted(points, key=lambda p: p.address))
        addr = f"{r.address}" if not offset else f"{r.address} (doc {r.address - offset})"
        table.add_row(str(i), f"{r.function_code:02d} {r.table}", addr, str(r.count), names)
    return table


def register(app: typer.Typer) -> None:
    @app.command("scan")
    def scan_cmd(
        target: str = typer.Argument(..., help="HOST[:PORT] of the device or RS485 gateway"),
        units: str = typer.Option("1-247", help="unit ids to try, e.g. 1-10,20"),
        timeout: float = typer.Option(1.0, help="seconds to wait for each answer"),
        dlt645: bool = typer.Option(False, "--dlt645",
                                    help="a serial gateway with DL/T 645-2007 meters"),
        address: list[str] = typer.Option([], "--address", "-a",
                                          help="--dlt645: a meter address to try (repeatable)"),
        search: bool = typer.Option(False, help="--dlt645: search by abbreviated addresses"),
        baud: int = typer.Option(2400, help="--dlt645: the bus's baud rate"),
        framing: str = typer.Option("8E1", help="--dlt645: 8E1, 8O1, 8N1 or 8N2"),
    ) -> None:
        """Find which unit ids answer at TARGET and which device profile each one speaks
        (with --dlt645: which DL/T 645 meters answer on the gateway's bus)."""
        err = Console(stderr=True)
        if dlt645:
            _scan_dlt645(target, address, search, baud, framing, timeout)
            return
        try:
            host, port = parse_target(target)
            unit_ids = parse_units(units)
        except ValueError as e:
            err.print(f"scan: {e}", markup=False)
            raise typer.Exit(2) from None
        try:
            results = asyncio.run(scan_target(host, port, unit_ids, timeout, load_registry()))
        except SourceError as e:
            err.print(f"scan: {e}", markup=False)
            raise typer.Exit(1) from None
        Console().print(scan_table(f"{host}:{port}", results))
        if not results:
            err.print(f"no unit in {units} answered at {host}:{port}", markup=False)
            raise typer.Exit(1)

    @app.command("plan")
    def plan_cmd(
        device: str = typer.Argument(..., help="a device id from the config"),
        config: Path = typer.Option(..., "--config", "-c", help="the YAML config file"),
    ) -> None:
        """Show the reads one poll of DEVICE makes (Modbus registers, or DL/T 645 data
        identifiers and their time on the serial wire)."""
        err = Console(stderr=True)
        try:
            registry = load_registry()
            cfg = load_config(config, registry)
        except ConfigError as e:
            for problem in e.problems or [str(e)]:
                err.print(problem, markup=False, highlight=False)
            raise typer.Exit(2) from None
        found = next((d for _, d in cfg.devices() if d.id == device), None)
        serial = next(((g, m) for p in cfg.plants() for g in p.dlt645_gateways
                       for m in g.meters if m.id == device), None)
        if found is None and serial is not None:
            Console().print(dlt645_plan_table(*serial))
            return
        if found is None:
            known = ", ".join(d.id for _, d in cfg.devices()[:20])
            err.print(f"no device {device!r} in {config}; devices: {known}", markup=False)
            raise typer.Exit(2)
        decoder = DeviceDecoder(registry[found.profile], cfg.collector.max_hole)
        Console().print(plan_table(found.id, decoder))


def _scan_dlt645(target: str, addresses: list[str], search: bool, baud: int, framing: str,
                 timeout: float) -> None:
    err = Console(stderr=True)
    try:
        host, port = parse_target(target)
        if framing not in BITS_PER_BYTE:
            raise ValueError(f"framing {framing!r}: one of {', '.join(BITS_PER_BYTE)}")
        for a in addresses:
            if len(a) != 12 or not a.isdigit():
                raise ValueError(f"address {a!r}: 12 digits, as on the nameplate")
    except ValueError as e:
        err.print(f"scan: {e}", markup=False)
        raise typer.Exit(2) from None
    try:
        found = asyncio.run(scan_gateway(host, port, addresses, search, baud,
                                         BITS_PER_BYTE[framing], timeout))
    except SourceError as e:
        err.print(f"scan: {e}", markup=False)
        raise typer.Exit(1) from None
    Console().print(meters_table(f"{host}:{port}", found))
    for note in found.notes:
        err.print(note, markup=False)
    if not found.meters:
        raise typer.Exit(1)
