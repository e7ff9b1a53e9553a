"""Checks across entries for DL/T 645 gateways and meters.

Run by ``config.loader`` on the raw YAML, where each problem names its line and the line of
the entry it clashes with, and by ``Config.cross_problems`` on a config built in Python:
- a meter id is unique across the site, Modbus devices included (both are InfluxDB tags);
- a gateway id is unique across Modbus and DL/T 645 gateways;
- a DL/T 645 gateway has a host:port of its own (a Modbus gateway or device there would get
  DL/T 645 bytes, and the other way round);
- two meters on one bus have different addresses (both would answer);
- a simulator fault on a meter is one a DL/T 645 meter can have, and a DL/T 645 fault names
  a DL/T 645 meter.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from config.schema import Config

Loc = tuple[str | int, ...]
METER_FAULTS = {"no_answer", "slow_answer", "bad_checksum", "error_reply", "counter_reset"}
ONLY_METER_FAULTS = {"bad_checksum", "error_reply"}
METER_COUNTERS = {"e_export_kwh", "e_import_kwh"}


class Report(Protocol):
    def __call__(self, loc: Loc, message: str) -> None: ...

    def line(self, loc: Loc) -> int: ...


class Placed(Protocol):
    """A Modbus device as the loader sees it: its id, address and location."""

    id: str
    host: str
    port: int
    loc: Loc


def _items(holder: object, key: str) -> list[tuple[int, dict[str, Any]]]:
    seq = holder.get(key) if isinstance(holder, dict) else None
    if not isinstance(seq, list):
        return []
    return [(i, item) for i, item in enumerate(seq) if isinstance(item, dict)]


def _port(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def raw_problems(plants: Iterable[tuple[Loc, dict[str, Any]]], devices: Iterable[Placed],
                 first_gw: dict[str, Loc], gw_at: dict[tuple[str, int], tuple[str, Loc]],
                 data: dict[str, Any], report: Report) -> set[str]:
    """Report every DL/T 645 clash in the raw YAML; return the meter ids."""
    by_id: dict[str, Loc] = {d.id: d.loc for d in devices}
    by_addr: dict[tuple[str, int], Loc] = {}
    for d in devices:
        by_addr.setdefault((d.host, d.port), d.loc)
    meters: dict[str, Loc] = {}
    gateways = dict(first_gw)
    at: dict[tuple[str, int], tuple[str, Loc]] = dict(gw_at)
    for ploc, plant in plants:
        for gi, gw in _items(plant, "dlt645_gateways"):
            gloc: Loc = (*ploc, "dlt645_gateways", gi)
            gid, host, port = gw.get("id"), gw.get("host", "127.0.0.1"), _port(gw.get("port"))
            if isinstance(gid, str):
                if gid in gateways:
                    report((*gloc, "id"), f"gateway id {gid!r} is used twice (first at line "
                                          f"{report.line(gateways[gid])})")
                else:
                    gateways[gid] = (*gloc, "id")
            if isinstance(host, str) and port is not None:
                if (host, port) in at:
                    other, oloc = at[(host, port)]
                    report(gloc, f"gateway {gid!r} has the same host:port {host}:{port} as "
                                 f"gateway {other!r} (line {report.line(oloc)})")
                elif (host, port) in by_addr:
                    report(gloc, f"gateway {gid!r} is at {host}:{port}, where a Modbus device "
                                 f"sits (line {report.line(by_addr[(host, port)])})")
                else:
                    at[(host, port)] = (str(gid), gloc)
            on_bus: dict[str, Loc] = {}
            for mi, meter in _items(gw, "meters"):
                mloc: Loc = (*gloc, "meters", mi)
                mid, address = meter.get("id"), meter.get("address")
                if isinstance(mid, str):
                    first = by_id.get(mid) or meters.get(mid)
                    if first is not None:
                        report((*mloc, "id"), f"device id {mid!r} is used twice (first at "
                                              f"line {report.line(first)})")
                    else:
                        meters[mid] = mloc
                if isinstance(address, str):
                    if address in on_bus:
                        report((*mloc, "address"), f"address {address} is on this bus twice "
                                                   f"(first at line {report.line(on_bus[address])})"
                                                   ": both meters would answer")
                    else:
                        on_bus[address] = mloc
    sim = data.get("simulator")
    for fi, fault in _items(sim, "faults"):
        problem = fault_problem(fault.get("device"), fault.get("kind"), fault.get("field"),
                                set(meters), set(by_id))
        if problem:
            report(("simulator", "faults", fi), problem)
    return set(meters)


def fault_problem(device: object, kind: object, field: object, meters: set[str],
                  modbus: set[str]) -> str | None:
    if device in meters:
        if kind not in METER_FAULTS:
            return (f"a DL/T 645 meter cannot have a {kind} fault (it can: "
                    f"{', '.join(sorted(METER_FAULTS))})")
        if kind == "counter_reset" and field is not None and field not in METER_COUNTERS:
            return (f"field {field!r}: a DL/T 645 meter's counters are "
                    f"{', '.join(sorted(METER_COUNTERS))}")
    elif device in modbus and kind in ONLY_METER_FAULTS:
        return f"a {kind} fault is for DL/T 645 meters; {device!r} is a Modbus device"
    return None


def model_problems(config: Config, modbus_ids: set[str],
                   say: Callable[[str], None]) -> set[str]:
    """The same checks on a config built in Python; returns the meter ids."""
    meter_ids: set[str] = set()
    gw_ids = {g.id for _, g in config.gateways()}
    addrs = {(d.host, d.port) for _, d in config.devices()}
    for p in config.plants():
        for g in p.dlt645_gateways:
            if g.id in gw_ids:
                say(f"gateway id {g.id!r} is used twice (plant {p.id})")
            gw_ids.add(g.id)
            if (g.host, g.port) in addrs:
                say(f"gateway {g.id!r} (plant {p.id}) has the host:port {g.host}:{g.port} of "
                    "another gateway or device")
            addrs.add((g.host, g.port))
            on_bus: set[str] = set()
            for m in g.meters:
                if m.id in modbus_ids or m.id in meter_ids:
                    say(f"device id {m.id!r} is used twice (plant {p.id}, gateway {g.id})")
                meter_ids.add(m.id)
                if m.address in on_bus:
                    say(f"meter {m.id!r}: address {m.address} is on gateway {g.id}'s bus twice")
                on_bus.add(m.address)
    for i, f in enumerate(config.simulator.faults):
        problem = fault_problem(f.device, f.kind, f.field, meter_ids, modbus_ids)
        if problem:
            say(f"simulator.faults[{i}]: {problem}")
    return meter_ids
