"""`make demo`: a simulated day at the demo site, through the real collector into InfluxDB.

It starts a private InfluxDB under var/demo, serves the config's fleet from the simulator,
polls it with the collector at the simulator's speed, then reads each plant's energy back from
InfluxDB and sets it beside the simulator's own ground truth.

The Modbus ports in the config are only names here: every endpoint is moved to a free port
first (the fleet serves and the collector polls the same moved config), so a second demo, a
test run or anything else on 15020 never makes it fail.
"""

from __future__ import annotations

import asyncio
import csv
import logging
import shutil
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from pydantic import HttpUrl
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from collector.alarms.demo import add_demo_faults
from collector.alarms.demo import report as report_alarms
from collector.reading import Reading
from collector.runner import Collector
from collector.sinks.base import CallbackSink
from collector.sinks.influx import InfluxSink
from config.profiles import load_registry
from config.schema import Config
from localsite.demo_mqtt import DEMO_MQTT_PLANT, MqttPlantPath
from localsite.servers import DEFAULT_VAR, InfluxServer, free_port
from reports.line_loss import settlement_meters
from simulator.fleet import Fleet
from timebase.clock import Clock

log = logging.getLogger(__name__)

DAY_S = 86_400
# Simulated time before the day begins (and after it ends): every meter must be read at least
# once before local midnight, or the allocator has no baseline for the day. Two hours are 5 s
# of real time at 1440x: enough for the first polls on a loaded machine, a DL/T 645 meter's
# included (a poll is up to a second of serial traffic at 9600 baud: 24 simulated minutes); 15
# minutes (0.6 s) was not, and an hour was not always for the serial meter.
MARGIN = timedelta(hours=2)
ALLOCATION_EXAMPLE = Path(__file__).resolve().parent.parent / "config" / "examples" / \
    "allocation-gonghe.yaml"


@dataclass
class PlantEnergy:
    plant: str
    meter_kwh_influx: float
    meter_kwh_truth: float
    inverters_kwh_influx: float
    inverters_kwh_truth: float
    readings: int

    @staticmethod
    def pct(a: float, b: float) -> float:
        return 0.0 if b == 0 else (a - b) / b * 100.0


def plant_energy_from_influx(server: InfluxServer, db: str, cfg: Config, start_ns: int,
                             end_ns: int) -> dict[str, tuple[float, float, int]]:
    """Per plant: (meter export kWh, inverter kWh, readings) over [start, end] from InfluxDB.

    The meter is the plant's settlement meter (a DL/T 645 meter where it has one, not the
    plant's own check meter beside it), as billing and the line-loss report count it.
    """
    registry = load_registry()
    where = f"time >= {start_ns} AND time <= {end_ns}"
    out: dict[str, tuple[float, float, int]] = {}
    for plant in cfg.plants():
        tag = f"plant = '{plant.id}'"
        billed = " OR ".join(f"device = '{m}'" for m in settlement_meters(plant, registry))
        billed = billed or "device = ''"  # no meter: nothing
        meter = server.query(f"SELECT spread(e_export_kwh) FROM meter WHERE {tag} AND "
                             f"({billed}) AND {where} GROUP BY device", db)
        inv = server.query(
            f"SELECT spread(e_total_kwh) FROM inverter WHERE {tag} AND {where} GROUP BY device",
            db)
        count = server.query(
            f"SELECT count(p_ac_w) FROM inverter WHERE {tag} AND {where}", db)
        mcount = server.query(f"SELECT count(p_w) FROM meter WHERE {tag} AND {where}", db)
        n = sum(s["values"][0][1] for s in count + mcount)
        out[plant.id] = (sum(s["values"][0][1] for s in meter),
                         sum(s["values"][0][1] for s in inv), n)
    return out


def use_free_ports(cfg: Config) -> dict[tuple[str, int], tuple[str, int]]:
    """Move every device and gateway endpoint of ``cfg`` to a free port on its host."""
    moved = {(host, port): (host, free_port()) for host, port in cfg.endpoints()}
    cfg.move_endpoints(moved)
    return moved


async def _stop_all(*steps: tuple[str, Callable[[], Awaitable[None]]],
                    raise_error: bool) -> None:
    """Run every stop step even if one fails (or a second Ctrl-C comes); the rest must stop too.

    The first error is raised only when ``raise_error``: on the way out of a failed run the
    error that ended it is the one worth seeing.
    """
    first: BaseException | None = None
    for name, step in steps:
        try:
            await step()
        except BaseException as e:
            log.error("demo: stopping the %s failed: %r", name, e)
            first = first or e
    if first is not None and raise_error:
        raise first


async def simulate_day(cfg: Config, server: InfluxServer, console: Console,
                       keep_running: bool) -> tuple[list[PlantEnergy], int, int, float]:
    sim = cfg.simulator
    start = sim.start or datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    # Begin a little before the day and end a little after it, so the meters are read on both
    # sides of each local midnight, as the allocator needs to difference the counters.
    registry = load_registry()  # before the clock runs: at 1440x the margin is 0.6 s real
    clock = Clock.starting(start - MARGIN, sim.speed)
    start_ns = clock.sim_start_ns
    stop_ns = start_ns + int((DAY_S + 2 * MARGIN.total_seconds()) * 1e9)
    fleet = Fleet(cfg, clock, registry)
    sink = InfluxSink(cfg.influxdb)
    accepted = 0

    async def count(readings: Sequence[Reading]) -> None:
        nonlocal accepted
        accepted += len(readings)

    # one plant takes the MQTT path: edge collector -> Mosquitto -> this collector
    mqtt = MqttPlantPath(cfg, DEMO_MQTT_PLANT, server.root.parent, clock) \
        if any(p.id == DEMO_MQTT_PLANT for p in cfg.plants()) else None
    collector = Collector(mqtt.central if mqtt else cfg, [sink, CallbackSink(count)], clock,
                          registry)
    t0 = time.monotonic()
    completed = False
    # whatever happens (Ctrl-C, a port taken, InfluxDB gone), stop what was started: the
    # the collector first (no more polls, then its sinks flush), then the fleet
    try:
        await fleet.start()
        truth0 = fleet.ground_truth()
        if mqtt is not None:
            await mqtt.start()
        await collector.start()
        with Progress(TextColumn("[bold]simulating"), BarColumn(),
                      TextColumn("{task.description}"), TimeElapsedColumn(),
                      console=console, transient=True) as progress:
            task = progress.add_task("", total=stop_ns - start_ns)
            while (now := clock.now_ns()) < stop_ns:
                sim_dt = datetime.fromtimestamp(now / 1e9, start.tzinfo)
                progress.update(task, completed=now - start_ns,
                                description=f"{sim_dt:%Y-%m-%d %H:%M} local, "
                                            f"{accepted:,} readings accepted")
                await asyncio.sleep(0.2)
        if keep_running:
            console.print(f"[bold]--keep-running[/]: fleet and collector go on, InfluxDB at "
                          f"{server.url} (database {cfg.influxdb.database}); Ctrl-C stops them.")
            from pvrelief.runtime import stop_event_on_signals
            await stop_event_on_signals().wait()
        completed = True
    finally:
        nothing = _nothing
        await _stop_all(("MQTT edge", mqtt.stop_edge if mqtt else nothing),
                        ("collector", collector.stop),
                        ("Mosquitto", mqtt.stop_broker if mqtt else nothing),
                        ("fleet", fleet.stop), raise_error=completed)
    truth1 = fleet.ground_truth()
    elapsed = time.monotonic() - t0
    stored = plant_energy_from_influx(server, cfg.influxdb.database, cfg, start_ns, stop_ns)
    registry = load_registry()
    rows = []
    for sp in fleet.plants:
        pid = sp.plant.id
        meter_ids = settlement_meters(sp.plant, registry)
        meter_truth = sum(truth1[m]["e_export_kwh"] - truth0[m]["e_export_kwh"]
                          for m in meter_ids)
        inv_truth = sum(truth1[i.id]["e_total_kwh"] - truth0[i.id]["e_total_kwh"]
                        for i in sp.inverters)
        m_db, i_db, n = stored[pid]
        label = f"{pid} (MQTT)" if mqtt is not None and pid == mqtt.plant_id else pid
        rows.append(PlantEnergy(label, m_db, meter_truth, i_db, inv_truth, n))
    return rows, accepted, len(fleet.devices), elapsed


async def _nothing() -> None:
    return None


def allocate_demo_day(console: Console, config: Path, day: str, out: Path, url: str,
                      db: str) -> None:
    """Split the simulated day's metered revenue among the villages, from InfluxDB."""
    from allocator.pipeline import run
    from config.influx import InfluxSettings

    run(config, day, out, influx=InfluxSettings(url=url, database=db))
    with (out / "allocation.csv").open(encoding="utf-8-sig", newline="") as f:
        rows = list(csv.DictReader(f))
    table = Table(title=f"Revenue of {day} by village (pvrelief allocate, from the meters)")
    for col in ("plant", "village", "energy kWh", "gross yuan", "deductions yuan", "net yuan"):
        table.add_column(col, justify="left" if col in ("plant", "village") else "right")
    for r in rows:
        table.add_row(r["plant_id"], r["village_name"] or r["village_id"],
                      f"{float(r['energy_kwh']):,.1f}", _yuan(r["gross_fen"]),
                      _yuan(r["deductions_fen"]), _yuan(r["net_fen"]))
    console.print(table)
    console.print(f"Statements, CSV and JSON in {out}/ "
                  "(allocation.csv, plants.csv, allocation.json, statements/*.xlsx).")


def print_line_loss(console: Console, cfg: Config, day: date) -> None:
    """The day's line loss per plant, from what the collector stored (pvrelief line-loss)."""
    from reports.influx_counters import InfluxCounters
    from reports.line_loss import line_loss
    from reports.render import loss_table

    counters = InfluxCounters(cfg.influxdb, trust_env=False)  # a loopback server
    try:
        rows = line_loss(cfg, load_registry(), counters, day, day)
    finally:
        counters.close()
    console.print(loss_table(rows, 5.0))


def _yuan(fen: str) -> str:
    return f"{int(fen) / 100:,.2f}"


def run_demo(cfg: Config, var: Path = DEFAULT_VAR / "demo", keep_running: bool = False,
             allocation_config: Path = ALLOCATION_EXAMPLE) -> int:
    console = Console(width=max(Console().width, 110))
    if var.exists():
        shutil.rmtree(var)  # a demo starts from nothing, every time
    with InfluxServer(var / "influxdb") as server:
        cfg = cfg.model_copy(deep=True)
        moved = use_free_ports(cfg)
        cfg.influxdb.url = HttpUrl(server.url)
        cfg.influxdb.spool_dir = var / "spool"
        faults = add_demo_faults(cfg)  # alarm state goes to var/state, beside the spool
        console.print("Faults injected for the alarms: " + "; ".join(faults))
        console.print(f"InfluxDB {server.url} (data in {var / 'influxdb'}), "
                      f"database [bold]{cfg.influxdb.database}[/]")
        n_dev = len(cfg.devices())
        console.print(f"Simulating {len(cfg.plants())} plants, {n_dev} devices, one day at "
                      f"{cfg.simulator.speed:g}x from {cfg.simulator.start}; Modbus on "
                      + ", ".join(f"{h}:{p}" for h, p in moved.values()))
        rows, written, devices, elapsed = asyncio.run(
            simulate_day(cfg, server, console, keep_running))
        table = Table(title="Energy on the simulated day: InfluxDB vs simulator ground truth")
        for col in ("plant", "meter kWh (InfluxDB)", "truth kWh", "diff %",
                    "inverters kWh (InfluxDB)", "truth kWh", "diff %", "readings"):
            table.add_column(col, justify="left" if col == "plant" else "right")
        worst = 0.0
        for r in rows:
            d_m = r.pct(r.meter_kwh_influx, r.meter_kwh_truth)
            d_i = r.pct(r.inverters_kwh_influx, r.inverters_kwh_truth)
            worst = max(worst, abs(d_m), abs(d_i))
            table.add_row(r.plant, f"{r.meter_kwh_influx:,.1f}", f"{r.meter_kwh_truth:,.1f}",
                          f"{d_m:+.3f}", f"{r.inverters_kwh_influx:,.1f}",
                          f"{r.inverters_kwh_truth:,.1f}", f"{d_i:+.3f}", str(r.readings))
        console.print(table)
        console.print(f"{written:,} readings from {devices} devices collected and written "
                      f"in {elapsed:.0f} s.")
        day = (cfg.simulator.start or datetime.now(UTC)).date().isoformat()
        out = var / "allocation"
        report_alarms(cfg, console, date.fromisoformat(day))
        allocate_demo_day(console, allocation_config, day, out, server.url,
                          cfg.influxdb.database)
        print_line_loss(console, cfg, date.fromisoformat(day))
        console.print(
            f"InfluxDB data stays in {var / 'influxdb'}; run `.venv/bin/pvrelief demo "
            "--keep-running` to keep the fleet, collector and InfluxDB up after the day and "
            "query them, e.g.\n  curl -G " + server.url + "/query --data-urlencode db=" +
            cfg.influxdb.database + " --data-urlencode "
            "\"q=SELECT spread(e_export_kwh) FROM meter GROUP BY plant\"")  # sim time is 2020
        console.print("Grafana (11.6): provision grafana/provisioning/ with INFLUX_URL set to that "
                      "InfluxDB, or `pvrelief grafana push --url ...`; the dashboards' time "
                      "range should cover 2020-06-21 (Asia/Shanghai).")
        return 0 if worst < 1.0 else 1
