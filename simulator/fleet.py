"""The simulated fleet: every configured device, its Modbus server, and the physics loop."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import numpy as np

from config.profiles import ProfileRegistry, load_registry
from config.schema import Config, Plant
from simulator.devices import SimInverter, SimMeter
from simulator.dlt645_fleet import Dlt645Fleet
from simulator.faults import FaultInjector
from simulator.modbus_server import STOP_TIMEOUT_S, SimServer, UnitBehaviour
from simulator.physics import PlantPhysics, ac_power_kw, dc_power_kw
from timebase.clock import Clock

log = logging.getLogger(__name__)


def _unit_rand(*parts: object) -> float:
    """A stable number in [0, 1) from the parts: the same fleet on every run."""
    h = hashlib.sha256(repr(parts).encode()).digest()
    return int.from_bytes(h[:8], "little") / 2**64


@dataclass
class SimPlant:
    plant: Plant
    physics: PlantPhysics
    inverters: list[SimInverter]
    meters: list[SimMeter]
    kwp: np.ndarray
    rated: np.ndarray
    tz: ZoneInfo
    day: date | None = None  # the local date of the last step: daily counters reset on change

    def local_date(self, t_ns: int) -> date:
        return datetime.fromtimestamp(t_ns / 1e9, UTC).astimezone(self.tz).date()


TYPICAL_KWH_PER_KWP_DAY = 4.5  # an earlier day of the month, for the monthly counter (estimate)


def catch_up_day(sp: SimPlant, t_ns: int) -> None:
    """Give each inverter the day it would have had by ``t_ns`` (a run that starts at noon
    finds the morning's yield, peak and start-up time, as a real unit's counters show)."""
    local = datetime.fromtimestamp(t_ns / 1e9, UTC).astimezone(sp.tz)
    midnight_ns = int(local.replace(hour=0, minute=0, second=0, microsecond=0).timestamp()
                      * 1e9)
    step_ns = 60 * 10**9
    if not sp.inverters or t_ns - midnight_ns < step_ns:
        return
    ts = np.append(np.arange(midnight_ns, t_ns, step_ns, dtype=np.int64), t_ns)
    poa, t_amb = sp.physics.conditions_series(ts)
    p_dc, _ = dc_power_kw(sp.kwp[:, None], poa[None, :], t_amb[None, :])
    p_ac_w = ac_power_kw(p_dc, sp.rated[:, None]) * 1000.0
    hours = (ts - ts[0]) / 3.6e12
    e_wh = ((p_ac_w[:, 1:] + p_ac_w[:, :-1]) / 2.0 * np.diff(hours)).sum(axis=1)
    for i, inv in enumerate(sp.inverters):
        producing = np.flatnonzero(p_ac_w[i] > 0.0)
        inv.e_day_wh = float(e_wh[i])
        inv.e_month_wh = inv.e_day_wh + (local.day - 1) * inv.kwp_dc * 1000.0 * \
            TYPICAL_KWH_PER_KWP_DAY * inv.variation
        inv.e_total_wh += inv.e_month_wh
        inv.p_peak_day_w = float(p_ac_w[i].max())
        inv.running_day_s = float(producing.size * 60)
        inv.startup_ns = int(ts[producing[0]]) if producing.size else None
        inv.p_ac_w = float(p_ac_w[i, -1])  # the next step integrates on from here


class Fleet:
    def __init__(self, config: Config, clock: Clock,
                 registry: ProfileRegistry | None = None) -> None:
        self.config = config
        self.clock = clock
        registry = registry or load_registry()
        sim = config.simulator
        self.plants: list[SimPlant] = []
        self.devices: dict[str, SimInverter | SimMeter] = {}
        endpoints: dict[tuple[str, int], dict[int, SimInverter | SimMeter]] = defaultdict(dict)
        for plant in config.plants():
            tz = ZoneInfo(plant.timezone)
            inverters: list[SimInverter] = []
            meters: list[SimMeter] = []
            inv_specs = [d for d in plant.all_devices()
                         if registry[d.profile].kind == "inverter"]
            for d in plant.all_devices():
                profile = registry[d.profile]
                if profile.kind == "inverter":
                    n = len(inv_specs)
                    rated = d.rated_kw_ac or profile.rated_kw_ac or plant.capacity_kw_ac / n
                    kwp = plant.capacity_kwp_dc * rated / plant.capacity_kw_ac
                    dev: SimInverter | SimMeter = SimInverter(
                        id=d.id, plant=plant.id, unit_id=d.unit_id, profile=profile, tz=tz,
                        rated_kw_ac=rated, kwp_dc=kwp,
                        variation=0.97 + 0.04 * _unit_rand(sim.seed, d.id),
                        # a lifetime counter that started years ago, never zero
                        e_total_wh=1e6 * rated * (0.5 + _unit_rand(sim.seed, d.id, "e")),
                    )
                    inverters.append(dev)
                else:
                    dev = SimMeter(id=d.id, plant=plant.id, unit_id=d.unit_id, profile=profile,
                                   tz=tz,
                                   loss=sim.meter_loss,
                                   e_export_wh=1e6 * plant.capacity_kw_ac * (
                                       0.5 + _unit_rand(sim.seed, d.id, "e")),
                                   e_import_wh=1e3 * plant.capacity_kw_ac,
                                   standby_w=plant.capacity_kw_ac * 0.5)
                    meters.append(dev)
                    if (tr := sim.meter_transformers.get(d.id)) is not None:
                        dev.set_transformers(tr.ct_ratio, tr.pt_ratio)
                self.devices[d.id] = dev
                if d.protocol == "modbus-tcp":  # mqtt devices are published (mqtt_publisher)
                    endpoints[(d.host, d.port)][d.unit_id] = dev
            self.plants.append(SimPlant(
                plant, PlantPhysics(plant, sim.seed, sim.cloudiness), inverters, meters,
                kwp=np.array([i.kwp_dc * i.variation for i in inverters]),
                rated=np.array([i.rated_kw_ac for i in inverters]),
                tz=tz,
            ))
        unknown = sorted(set(sim.meter_transformers) - {
            m.id for sp in self.plants for m in sp.meters})
        if unknown:
            raise ValueError(f"simulator.meter_transformers: no meter {', '.join(unknown)}")
        buses = {(g.host, g.port): g.serial for _, g in config.gateways()}
        lean = sim.modbus_server == "lean"
        self.servers = [SimServer(h, p, units, lean=lean, bus=buses.get((h, p)))
                        for (h, p), units in endpoints.items()]
        self.behaviour: dict[str, UnitBehaviour] = {
            dev.id: s.context.behaviour[unit]
            for s in self.servers for unit, dev in s.context.units.items()}
        for dev_id in self.devices.keys() - self.behaviour.keys():
            self.behaviour[dev_id] = UnitBehaviour()  # dead: the publisher leaves it out
        start_ns = (int(sim.start.timestamp() * 1e9) if sim.start is not None
                    else clock.now_ns())
        # DL/T 645 meters sit on gateways of their own and take their own faults
        self.dlt645 = Dlt645Fleet(config, start_ns)
        self.faults = FaultInjector([f for f in sim.faults if f.device in self.devices],
                                    self.devices, self.behaviour, start_ns)
        self._last_ns: int | None = None
        self._task: asyncio.Task[None] | None = None

    # -- physics ---------------------------------------------------------------------------
    def step(self, t_ns: int) -> None:
        """Advance every device to simulated instant ``t_ns``."""
        dt = 0.0 if self._last_ns is None else max(0.0, (t_ns - self._last_ns) / 1e9)
        if self._last_ns is None:
            for sp in self.plants:
                catch_up_day(sp, t_ns)
        self._last_ns = t_ns
        self.faults.apply(t_ns)
        self.dlt645.apply_faults(t_ns)
        sleepers = self.config.simulator.inverters_sleep_at_night
        for sp in self.plants:
            # daily counters reset at the plant's local midnight (00:00 in Asia/Shanghai is
            # 16:00 UTC), as the devices' own clocks, set to local time, do
            day = sp.local_date(t_ns)
            crossed_day = sp.day is not None and day != sp.day
            new_month = crossed_day and sp.day is not None and day.month != sp.day.month
            sp.day = day
            poa, t_amb = sp.physics.conditions(t_ns)
            kwp = sp.kwp * np.array([i.dc_factor() for i in sp.inverters])
            p_dc, t_cell = dc_power_kw(kwp, poa, t_amb)
            p_ac = ac_power_kw(p_dc, sp.rated)
            for inv, pac, pdc in zip(sp.inverters, p_ac, p_dc, strict=True):
                if crossed_day:
                    inv.new_day(new_month)
                inv.advance(dt, float(pac) * 1000.0, t_amb, t_cell, float(pdc) * 1000.0, t_ns)
                # with DC gone a real inverter's Modbus board is off too
                if sleepers or inv.id in self.faults.touched:
                    self.behaviour[inv.id].dead = inv.id in self.faults.silenced or (
                        sleepers and inv.p_ac_w <= 0.0)
            total = sum(i.p_ac_w for i in sp.inverters)
            self.dlt645.advance(sp.plant.id, dt, total, t_ns)
            for m in sp.meters:
                m.advance(dt, total, t_ns)
                if m.id in self.faults.touched:
                    self.behaviour[m.id].dead = m.id in self.faults.silenced

    async def _run(self) -> None:
        tick_real = max(self.config.simulator.tick_s / self.clock.speed, 0.02)
        while True:
            self.step(self.clock.now_ns())
            await asyncio.sleep(tick_real)

    # -- lifecycle -------------------------------------------------------------------------
    async def start(self) -> None:
        self.step(self.clock.now_ns())
        for s in self.servers:
            await s.start()
        await self.dlt645.start()
        self._task = asyncio.create_task(self._run(), name="fleet-physics")
        log.info("simulating %d devices on %d endpoints", len(self.devices), len(self.servers))

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                # bounded: a stop that hangs must fail loudly, not stall a test or the demo
                await asyncio.wait_for(self._task, STOP_TIMEOUT_S)
            self._task = None
        self.step(self.clock.now_ns())  # ground truth up to the moment we stop
        for s in self.servers:
            await s.stop()
        await self.dlt645.stop()

    async def __aenter__(self) -> Fleet:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def ground_truth(self) -> dict[str, dict[str, float]]:
        """Each device's true counters (kWh) as of the last physics step."""
        out: dict[str, dict[str, float]] = {}
        for dev_id, d in self.devices.items():
            if isinstance(d, SimInverter):
                out[dev_id] = {"e_total_kwh": d.e_total_wh / 1000.0, "p_ac_w": d.p_ac_w}
            else:
                out[dev_id] = {"e_export_kwh": d.e_export_wh / 1000.0,
                               "e_import_kwh": d.e_import_wh / 1000.0, "p_w": d.p_w}
        out.update(self.dlt645.ground_truth())
        return out

    def function_codes(self) -> dict[int, int]:
        total: dict[int, int] = defaultdict(int)
        for s in self.servers:
            for code, n in s.context.function_codes.items():
                total[code] += n
        return dict(total)
