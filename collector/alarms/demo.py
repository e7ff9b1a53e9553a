"""The alarms part of `make demo`: inject a few faults, then show what they raised and cleared
and the day's KPIs per plant.

    cfg = cfg.model_copy(deep=True)
    added = add_demo_faults(cfg)          # before the fleet is built from cfg
    ... simulate the day ...
    report(cfg, console, day, end_ns)     # after the collector has stopped

The faults fall on the first village plant with three inverters or more (else the first plant
with three): a fault code on its first
inverter (10:00-10:40 local), its second one silent in daylight (12:00-13:00), a string loss on
its third (14:00-15:30). The silent inverter is given a port of its own: at 1440x each of its
2 s timeouts would hold its plant's shared connection for 48 simulated minutes, and its
neighbours would look silent too (in real time a 2 s wait is nothing to a 60 s poll).
"""

from __future__ import annotations

import time
from collections import Counter
from datetime import date, datetime
from datetime import time as dtime
from typing import Any
from zoneinfo import ZoneInfo

from rich.console import Console
from rich.table import Table

from collector.alarms.builtin import STATE_ZH
from collector.alarms.report import Clocks
from collector.alarms.store import AlarmStore
from config.profiles import ProfileRegistry, load_registry
from config.schema import Config, FaultSpec
from localsite.servers import free_port
from reports.kpi.publish import rows as kpi_rows
from reports.kpi.run import compute, open_store, write_points

# (inverter index, kind, local start, local end, options)
FAULTS: list[tuple[int, str, str, str, dict[str, Any]]] = [
    (0, "fault_code", "10:00", "10:40", {}),
    (1, "no_answer", "12:00", "13:00", {}),
    (2, "string_loss", "14:00", "15:30", {"string": 2, "loss": 0.6}),
]
# a code each inverter profile's catalog names: the vendor's own numbering
CODES = {"huawei-sun2000": 2064, "sungrow-sg": 39, "sunspec-inverter": 1004,
         "sunspec-auto": 1004}


def add_demo_faults(cfg: Config, registry: ProfileRegistry | None = None) -> list[str]:
    """Add the demo's faults to ``cfg.simulator.faults``; return what was added, in words.

    Call it after the endpoints have their final ports (the silent inverter gets a new one).
    """
    registry = registry or load_registry()
    start = cfg.simulator.start
    if start is None:
        raise ValueError("the demo's faults need simulator.start (the simulated day)")
    candidates = sorted(cfg.plants(), key=lambda p: p.kind != "village")  # villages first
    for plant in candidates:
        inverters = [d for d in plant.all_devices()
                     if d.profile in registry and registry[d.profile].kind == "inverter"]
        if len(inverters) >= 3:
            break
    else:
        return []
    tz = ZoneInfo(plant.timezone)
    day = start.astimezone(tz).date()
    added = []
    for index, kind, lo, hi, options in FAULTS:
        dev = inverters[index]
        spec: dict[str, Any] = {"device": dev.id, "kind": kind, "from": _at(day, lo, tz),
                                "until": _at(day, hi, tz), **options}
        if kind == "fault_code":
            spec["code"] = CODES.get(dev.profile, 2064)
        if kind == "no_answer" and dev.gateway is None:
            dev.port = free_port()  # alone on its endpoint: its timeouts hold up nobody
        cfg.simulator.faults.append(FaultSpec.model_validate(spec))
        added.append(f"{dev.id} ({plant.id}): {kind} {lo}-{hi}")
    return added


def _at(day: date, hhmm: str, tz: ZoneInfo) -> datetime:
    hh, mm = map(int, hhmm.split(":"))
    return datetime.combine(day, dtime(hh, mm), tz)


def alarm_table(cfg: Config, day_start_ns: int, day_end_ns: int) -> tuple[Table, str]:
    """The day's alarms on the devices the simulator faulted, in full, and a count of the rest.

    At 1440x a loaded machine cannot always poll every device within three of its intervals,
    and a device not read for that long is reported silent, rightly: those are counted by kind
    below the table rather than drowning the injected faults.
    """
    store = AlarmStore(cfg.state_path, create=False)
    try:
        found = store.query(raised_from_ns=day_start_ns, raised_to_ns=day_end_ns)
    finally:
        store.close()
    faulted = {f.device for f in cfg.simulator.faults}
    clocks = Clocks(cfg)
    table = Table(title="Alarms of the day on the faulted devices (pvrelief alarms list)")
    for col in ("id", "plant", "device", "alarm", "severity", "raised", "cleared", "state"):
        table.add_column(col)
    others: Counter[str] = Counter()
    for a in sorted(found, key=lambda x: x.raised_ns):
        if a.device not in faulted:
            others[a.definition.id] += 1
            continue
        cleared = clocks.local(a.plant, a.ended_ns)[11:] if a.ended_ns else "—"
        table.add_row(str(a.id), a.plant, a.device,
                      f"{a.definition.name_zh} ({a.definition.id})", a.definition.severity,
                      clocks.local(a.plant, a.raised_ns)[11:], cleared,
                      STATE_ZH.get(a.state.value, a.state.value))
    rest = ", ".join(f"{n} {kind}" for kind, n in others.most_common())
    note = (f"Elsewhere: {rest} (a device not read for three of its intervals is reported "
            "silent; at 1440x that happens when the machine is busy)." if others else
            "No other alarm anywhere on the site.")
    return table, note


def report(cfg: Config, console: Console, day: date, now_ns: int | None = None) -> None:
    """Print the day's alarms and each plant's KPIs for the day; write the KPI points."""
    tz = ZoneInfo(cfg.plants()[0].timezone if cfg.plants() else "Asia/Shanghai")
    start = int(datetime.combine(day, dtime(0), tz).timestamp()) * 10**9
    end = start + 86_400 * 10**9
    table, note = alarm_table(cfg, start, end)
    console.print(table)
    console.print(note)
    now = now_ns if now_ns is not None else time.time_ns()
    results = compute(cfg, load_registry(), day.isoformat(), [], now, open_store(cfg))
    table = Table(title=f"KPIs of {day} (pvrelief kpi --day {day})")
    for col in ("plant", "online rate", "fault rate", "generation capability",
                "mean time to ack", "mean time to clear", "O&M coverage", "alarms"):
        table.add_column(col, justify="left" if col == "plant" else "right")
    for r in results:
        for row in kpi_rows(r.days):
            table.add_row(r.plant, *row[1:])
    console.print(table)
    n = write_points(cfg, results)
    console.print(f"{n} kpi points written to InfluxDB (Grafana: pvrelief-kpi); alarm points "
                  "are in the 'alarm' measurement (Grafana: pvrelief-alarms).")
