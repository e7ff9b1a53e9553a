"""Load a config file into the pydantic model; every error names file, line, field and owner.

Checks that span entries (an id used twice, two devices on one address, a fault naming no
device, ...) run here on the raw YAML rather than in the model: a model validator only knows
the top level, while here each problem can point at the offending entry's line and name the
entry it clashes with. Every problem is collected, not just the first.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from config.dlt645_checks import raw_problems as dlt645_problems
from config.errors import ConfigError
from config.mappings import load_mappings
from config.profiles import ProfileRegistry, load_registry
from config.schema import (
    CROSS_CHECKED,
    DEFAULT_HOST,
    DEFAULT_PORT,
    MAX_UNIT_ID,
    Config,
    repeat_ids,
)
from config.secrets import CONFIG_DIR
from config.validation import dotted, format_errors, owner
from config.yaml_loader import Loc, line_of, load_yaml


def load_config(path: str | Path, registry: ProfileRegistry | None = None) -> Config:
    """Parse and validate ``path``. Raises ConfigError listing every problem found."""
    path = Path(path)
    data, lines = load_yaml(path)
    if data is None:
        raise ConfigError(f"{path}:1: the file is empty: a config lists at least one plant")
    if not isinstance(data, dict):
        raise ConfigError(f"{path}:{line_of(lines, ()) or 1}: the top level must be a mapping")
    registry = registry or load_registry()
    report = _Reporter(str(path), data, lines)
    cfg: Config | None = None
    try:
        # secret files are relative to the config file, wherever the process was started
        cfg = Config.model_validate(data, context={CROSS_CHECKED: True,
                                                   CONFIG_DIR: path.resolve().parent})
    except ValidationError as e:
        report.problems += format_errors(e, lines, str(path), data)
    plants = _raw_plants(data)
    for loc, dev in _raw_devices(plants):
        name = dev.get("profile")
        if isinstance(name, str) and name not in registry:
            report((*loc, "profile"), f"unknown profile {name!r}; known: "
                                       f"{', '.join(sorted(registry))}")
    if cfg is not None and not cfg.plants():
        report(("counties",), "no plants: list at least one plant under counties[] (a county, "
                              "township or village `plants:`)")
    mappings = load_mappings()
    for i, sub in _items(data.get("mqtt"), "subscriptions"):
        name = sub.get("mapping")
        if isinstance(name, str) and name not in mappings:
            report(("mqtt", "subscriptions", i, "mapping"),
                   f"unknown mapping {name!r}; known: {', '.join(sorted(mappings))}")
    _cross_check(plants, data, report)
    if cfg is not None and not report.problems:
        # the model's own checks, should the two ever disagree: better line 1 than nothing
        report.problems += [f"{path}:1: (top level): {p}" for p in cfg.cross_problems()]
    if report.problems or cfg is None:
        problems = sorted(report.problems, key=_line_number)
        raise ConfigError("\n".join(problems), problems)
    return cfg


class _Reporter:
    """Collects problems as 'file:line: key (plant 'p', device 'd'): message'."""

    def __init__(self, source: str, data: dict[str, Any], lines: dict[Loc, int]) -> None:
        self.source, self.data, self.lines = source, data, lines
        self.problems: list[str] = []

    def line(self, loc: Loc) -> int:
        return line_of(self.lines, loc) or 1

    def __call__(self, loc: Loc, message: str) -> None:
        who = owner(self.data, loc)
        self.problems.append(f"{self.source}:{self.line(loc)}: {dotted(loc)}"
                             f"{f' ({who})' if who else ''}: {message}")


def _line_number(problem: str) -> int:
    try:
        return int(problem.split(":", 2)[1])
    except (IndexError, ValueError):
        return 0


# -- the raw tree -------------------------------------------------------------------------------
def _items(holder: object, key: str) -> list[tuple[int, dict[str, Any]]]:
    """The mappings listed under ``key`` (malformed entries are the model's to report)."""
    seq = holder.get(key) if isinstance(holder, dict) else None
    if not isinstance(seq, list):
        return []
    return [(i, item) for i, item in enumerate(seq) if isinstance(item, dict)]


def _raw_plants(data: dict[str, Any]) -> list[tuple[Loc, dict[str, Any]]]:
    """Every plant mapping with its location: under counties, townships and villages."""
    found: list[tuple[Loc, dict[str, Any]]] = []
    for ci, county in _items(data, "counties"):
        holders: list[tuple[Loc, dict[str, Any]]] = [(("counties", ci), county)]
        for ti, town in _items(county, "townships"):
            tloc: Loc = ("counties", ci, "townships", ti)
            holders.append((tloc, town))
            holders += [((*tloc, "villages", vi), v) for vi, v in _items(town, "villages")]
        for hloc, holder in holders:
            found += [((*hloc, "plants", pi), p) for pi, p in _items(holder, "plants")]
    return found


def _raw_devices(plants: list[tuple[Loc, dict[str, Any]]]) -> list[tuple[Loc, dict[str, Any]]]:
    found: list[tuple[Loc, dict[str, Any]]] = []
    for ploc, plant in plants:
        found += [((*ploc, "devices", di), d) for di, d in _items(plant, "devices")]
        for gi, gw in _items(plant, "gateways"):
            gloc = (*ploc, "gateways", gi)
            found += [((*gloc, "devices", di), d) for di, d in _items(gw, "devices")]
    return found


def _int(value: object, default: int) -> int | None:
    if value is None:
        return default
    return value if isinstance(value, int) and not isinstance(value, bool) else None


@dataclass(frozen=True, slots=True)
class _Dev:
    """One device as the config will hold it after ``repeat`` is expanded."""

    id: str
    host: str
    port: int
    unit: int
    gateway: str | None
    loc: Loc
    pushed: bool = False  # protocol mqtt: no address to clash


def _expanded(loc: Loc, dev: dict[str, Any], host: object, port: object,
              gateway: str | None) -> list[_Dev]:
    dev_id, unit = dev.get("id"), _int(dev.get("unit_id"), 1)
    repeat = _int(dev.get("repeat"), 1)
    port_n = _int(port, DEFAULT_PORT)
    if not isinstance(dev_id, str) or not isinstance(host, str) or None in (unit, port_n):
        return []  # the model reports the malformed value itself
    assert unit is not None and port_n is not None
    if repeat is None or not 1 <= repeat <= MAX_UNIT_ID:
        repeat = 1
    pushed = dev.get("protocol") == "mqtt"
    return [_Dev(i, host, port_n, u, gateway, loc, pushed)
            for i, u in repeat_ids(dev_id, unit, repeat)]


# -- checks across entries ---------------------------------------------------------------------
def _cross_check(plants: list[tuple[Loc, dict[str, Any]]], data: dict[str, Any],
                 report: _Reporter) -> None:
    devices: list[_Dev] = []
    first_plant: dict[str, Loc] = {}
    first_gw: dict[str, Loc] = {}
    gw_at: dict[tuple[str, int], tuple[str, Loc]] = {}
    for ploc, plant in plants:
        pid = plant.get("id")
        if isinstance(pid, str):
            if pid in first_plant:
                report((*ploc, "id"), f"plant id {pid!r} is used twice "
                                      f"(first at line {report.line(first_plant[pid])})")
            else:
                first_plant[pid] = (*ploc, "id")
        for di, dev in _items(plant, "devices"):
            devices += _expanded((*ploc, "devices", di), dev, dev.get("host", DEFAULT_HOST),
                                 dev.get("port"), None)
        for gi, gw in _items(plant, "gateways"):
            gloc = (*ploc, "gateways", gi)
            gid, host, port = gw.get("id"), gw.get("host", DEFAULT_HOST), gw.get("port")
            port_n = _int(port, DEFAULT_PORT)
            if not isinstance(gid, str):
                continue
            if gid in first_gw:
                report((*gloc, "id"), f"gateway id {gid!r} is used twice "
                                      f"(first at line {report.line(first_gw[gid])})")
            else:
                first_gw[gid] = (*gloc, "id")
            if isinstance(host, str) and port_n is not None:
                if (host, port_n) in gw_at:
                    other, oloc = gw_at[(host, port_n)]
                    report(gloc, f"gateway {gid!r} has the same host:port {host}:{port_n} as "
                                 f"gateway {other!r} (line {report.line(oloc)})")
                else:
                    gw_at[(host, port_n)] = (gid, gloc)
            for di, dev in _items(gw, "devices"):
                devices += _expanded((*gloc, "devices", di), dev, host, port, gid)
    _check_devices(devices, gw_at, report)
    meters = dlt645_problems(plants, devices, first_gw, gw_at, data, report)
    sim = data.get("simulator")
    for fi, fault in _items(sim, "faults"):
        name = fault.get("device")
        if isinstance(name, str) and name not in {d.id for d in devices} | meters:
            report(("simulator", "faults", fi, "device"), f"no device {name!r} in this config")


def _check_devices(devices: list[_Dev], gw_at: dict[tuple[str, int], tuple[str, Loc]],
                   report: _Reporter) -> None:
    first_id: dict[str, _Dev] = {}
    first_addr: dict[tuple[str, int, int], _Dev] = {}
    for d in devices:
        if d.id in first_id:
            report((*d.loc, "id"), f"device id {d.id!r} is used twice "
                                   f"(first at line {report.line(first_id[d.id].loc)})")
        else:
            first_id[d.id] = d
        if d.pushed:
            continue
        addr = (d.host, d.port, d.unit)
        if addr in first_addr:
            other = first_addr[addr]
            via = f" (gateway {d.gateway})" if d.gateway else ""
            report(d.loc, f"device {d.id!r}{via} has the same host:port/unit "
                          f"{d.host}:{d.port}/{d.unit} as {other.id!r} "
                          f"(first at line {report.line(other.loc)})")
        else:
            first_addr[addr] = d
        gw = gw_at.get((d.host, d.port))
        if gw is not None and d.gateway is None:
            report(d.loc, f"device {d.id!r} is at {d.host}:{d.port}, the address of gateway "
                          f"{gw[0]!r} (line {report.line(gw[1])}): list it under that gateway")
