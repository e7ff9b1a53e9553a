"""Simulated inverters and meters: state from physics, counters as integrals of power.

Each device keeps its ground truth (energy counters in Wh as floats) apart from its register
image, so tests and the demo can compare what the collector stored with what really happened.

Besides the canonical fields the collector polls, a device publishes what a running unit shows
to any other client: line voltages, reactive and apparent power, power factor, efficiency, the
day's peak power, start-up time, running hours, its clock (``SIM_QUANTITIES``). A profile
places them with ``sim_field:``; a register that shows none of them serves its sentinel.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from config.profiles import Profile
from simulator.image import RegisterImage

GRID_V = 230.0
GRID_HZ = 50.0
SQRT3 = math.sqrt(3.0)
# the reactive power a plant runs at: PF 0.995 (lagging), as grid codes ask of small plants
Q_SHARE = math.tan(math.acos(0.995))
FULL_LOAD_H_PER_RUN_H = 0.35  # energy per running hour, as a share of rated power (estimate)
UTC_TZ = ZoneInfo("UTC")

# quantities a profile can place with `sim_field:` besides the canonical fields
SIM_QUANTITIES = frozenset({
    "status", "v_ac_l12_v", "v_ac_l23_v", "v_ac_l31_v", "q_ac_var", "s_ac_va", "pf_ac",
    "efficiency_pct", "p_peak_day_w", "startup_local_s", "shutdown_local_s", "running_h",
    "running_day_min", "e_month_kwh", "v_bus_v", "v_neg_ground_v",
    "clock_local_s", "clock_year", "clock_month", "clock_day", "clock_hour", "clock_minute",
    "clock_second", "utc_offset_min",
    "q_var", "pf", "v_l12_v", "v_l23_v", "v_l31_v", "p_l1_w", "p_l2_w", "p_l3_w",
})


def local_seconds(t_ns: int, tz: ZoneInfo) -> int:
    """Wall-clock seconds since 1970 in ``tz``: how Huawei and Sungrow clocks count time."""
    local = datetime.fromtimestamp(t_ns / 1e9, UTC).astimezone(tz)
    return int(local.replace(tzinfo=UTC).timestamp())


@dataclass
class SimDevice:
    id: str
    plant: str
    unit_id: int
    profile: Profile
    image: RegisterImage = field(init=False)
    tz: ZoneInfo = UTC_TZ  # the device's clock runs in the plant's local time
    faults: tuple[int, ...] = ()
    # fault injection (simulator.faults): a field forced to a value (a counter reset) and
    # fields frozen at the first value written after the fault began (a stuck register)
    overrides: dict[str, float] = field(default_factory=dict)
    stuck: dict[str, float | None] = field(default_factory=dict)
    # what each field was last set to, faults included: the truth a test compares with
    published: dict[str, float] = field(default_factory=dict)

    def publish(self, name: str, value: float | None) -> None:
        """Write a quantity to the register image, through any injected fault."""
        if not self.image.shows(name):
            return  # no register of this profile shows it
        if value is not None:
            if name in self.stuck:
                held = self.stuck[name]
                if held is None:
                    self.stuck[name] = held = value
                value = held
            value = self.overrides.get(name, value)
            if self.image.has_field(name):
                self.published[name] = value
        self.image.set_field(name, value)

    def publish_clock(self, t_ns: int) -> None:
        local = datetime.fromtimestamp(t_ns / 1e9, UTC).astimezone(self.tz)
        for part in ("year", "month", "day", "hour", "minute", "second"):
            self.publish(f"clock_{part}", getattr(local, part))
        self.publish("clock_local_s", local_seconds(t_ns, self.tz))
        offset = local.utcoffset()
        self.publish("utc_offset_min", offset.total_seconds() / 60 if offset else 0.0)

    def __post_init__(self) -> None:
        fields = {p.field for p in self.profile.points if p.field}
        for p in self.profile.points:
            if p.sim_field and p.sim_field not in SIM_QUANTITIES | fields:
                raise ValueError(f"{self.profile.source}: point {p.name}: sim_field "
                                 f"{p.sim_field!r} is nothing the simulator publishes")
        self.image = RegisterImage(self.profile)
        # identity the profile does not fix itself (a `sim:` string wins: the model name)
        self.image.set_text("manufacturer", "pvrelief")
        self.image.set_text("model", f"sim-{self.profile.name}")
        self.image.set_text("version", "1.0")
        self.image.set_text("serial", self.id.upper())


def pv_inputs_of(profile: Profile) -> int:
    """PV inputs (strings or MPPTs) the simulated model has: the profile's `sim_pv_inputs`,
    else every pvN input it maps, else 2."""
    if profile.sim_pv_inputs:
        return profile.sim_pv_inputs
    mapped = [n for n in range(1, 65) if any(p.field == f"pv{n}_v_v" for p in profile.points)]
    return len(mapped) or 2


@dataclass
class SimInverter(SimDevice):
    rated_kw_ac: float = 100.0
    kwp_dc: float = 110.0
    variation: float = 1.0  # this unit's share of the plant's yield, around 1
    pv_inputs: int = 0  # 0: from the profile (pv_inputs_of)
    e_total_wh: float = 0.0  # ground truth lifetime counter
    e_day_wh: float = 0.0
    e_month_wh: float = 0.0
    p_ac_w: float = 0.0
    p_peak_day_w: float = 0.0
    running_s: float = 0.0  # lifetime operating time
    running_day_s: float = 0.0
    startup_ns: int | None = None  # today's start of production
    shutdown_ns: int | None = None  # the last end of production
    string_loss: dict[int, float] = field(default_factory=dict)  # input n -> share lost

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.pv_inputs:
            self.pv_inputs = pv_inputs_of(self.profile)
        if not self.running_s:  # a unit that has run for as long as its counter says
            self.running_s = self.e_total_wh / (
                self.rated_kw_ac * 1000.0 * FULL_LOAD_H_PER_RUN_H) * 3600.0

    def dc_factor(self) -> float:
        """What is left of the array's output with the injected string losses."""
        return sum(self._string_weights()) / self.pv_inputs

    def _string_weights(self) -> list[float]:
        return [1.0 - self.string_loss.get(n, 0.0) for n in range(1, self.pv_inputs + 1)]

    def advance(self, dt_s: float, p_ac_w: float, t_amb: float, t_cell: float,
                p_dc_w: float, t_ns: int | None = None) -> None:
        """Integrate power over dt (trapezoid) and publish the new state."""
        e = (self.p_ac_w + p_ac_w) / 2.0 * dt_s / 3600.0
        self.e_total_wh += e
        self.e_day_wh += e
        self.e_month_wh += e
        running = p_ac_w > 0.0
        if running:
            self.running_s += dt_s
            self.running_day_s += dt_s
        if t_ns is not None:
            if running and self.startup_ns is None:
                self.startup_ns = t_ns
            if not running and self.p_ac_w > 0.0:
                self.shutdown_ns = t_ns
        self.p_ac_w = p_ac_w
        self.p_peak_day_w = max(self.p_peak_day_w, p_ac_w)
        img = self.image
        img.set_status("fault" if self.faults else ("running" if running else "sleeping"))
        img.set_faults(self.faults)
        self.publish("p_ac_w", p_ac_w)
        self.publish("e_total_kwh", self.e_total_wh / 1000.0)
        self.publish("e_day_kwh", self.e_day_wh / 1000.0)
        self.publish("e_month_kwh", self.e_month_wh / 1000.0)
        self._publish_ac(p_ac_w, p_dc_w, running)
        self._publish_dc(p_dc_w, t_cell, running)
        load = p_ac_w / (self.rated_kw_ac * 1000.0)
        self.publish("t_internal_c", t_amb + 5.0 + 25.0 * load)
        self.publish("t_heatsink_c", t_amb + 3.0 + 35.0 * load)
        self.publish("r_insulation_mohm", 3.0)
        self.publish("p_peak_day_w", self.p_peak_day_w)
        self.publish("running_h", self.running_s / 3600.0)
        self.publish("running_day_min", self.running_day_s / 60.0)
        if t_ns is not None:
            self.publish_clock(t_ns)
            self.publish("startup_local_s", None if self.startup_ns is None
                         else local_seconds(self.startup_ns, self.tz))
            self.publish("shutdown_local_s", None if self.shutdown_ns is None
                         else local_seconds(self.shutdown_ns, self.tz))

    def _publish_ac(self, p_ac_w: float, p_dc_w: float, running: bool) -> None:
        q = p_ac_w * Q_SHARE
        s = math.hypot(p_ac_w, q)
        i_phase = s / (3 * GRID_V)
        self.publish("i_ac_a", p_ac_w / (3 * GRID_V) * 3)
        for n in (1, 2, 3):
            self.publish(f"i_ac_l{n}_a", i_phase)
            self.publish(f"v_ac_l{n}_v", GRID_V + (n - 2) * 0.7 if running else GRID_V)
        for pair in ("12", "23", "31"):
            self.publish(f"v_ac_l{pair}_v", GRID_V * SQRT3)
        self.publish("f_ac_hz", GRID_HZ + 0.01 * math.sin(self.e_total_wh))
        self.publish("q_ac_var", q)
        self.publish("s_ac_va", s)
        self.publish("pf_ac", p_ac_w / s if s else 1.0)
        self.publish("efficiency_pct", 100.0 * p_ac_w / p_dc_w if p_dc_w > 0 else 0.0)

    def _publish_dc(self, p_dc_w: float, t_cell: float, running: bool) -> None:
        # maximum-power voltage of a string of about 20 modules, falling with cell temperature
        v_dc = 620.0 - 0.08 * (t_cell - 25.0) * 20 if running else 0.0
        self.publish("p_dc_w", p_dc_w)
        self.publish("v_dc_v", v_dc)
        self.publish("i_dc_a", p_dc_w / v_dc if v_dc else 0.0)
        self.publish("v_bus_v", max(v_dc * 1.15, 650.0) if running else 0.0)
        self.publish("v_neg_ground_v", -v_dc / 2.0)
        weights = self._string_weights()
        total = sum(weights)
        for n, w in enumerate(weights, start=1):
            p = p_dc_w * w / total if total else 0.0
            self.publish(f"pv{n}_p_w", p)
            self.publish(f"pv{n}_v_v", v_dc)
            self.publish(f"pv{n}_i_a", p / v_dc if v_dc else 0.0)

    def new_day(self, new_month: bool = False) -> None:
        self.e_day_wh = 0.0
        self.p_peak_day_w = 0.0
        self.running_day_s = 0.0
        self.startup_ns = None
        if new_month:
            self.e_month_wh = 0.0


@dataclass
class SimMeter(SimDevice):
    loss: float = 0.015
    e_export_wh: float = 0.0
    e_import_wh: float = 0.0
    p_w: float = 0.0
    standby_w: float = 0.0  # what the plant draws at night (imported)

    def set_transformers(self, ct: float, pt: float = 1.0) -> None:
        """Run the meter behind current (and voltage) transformers: its registers show the
        secondary side and its ratio registers say by how much (CHINT IrAt, UrAt)."""
        names = {r for p in self.profile.points for r in p.ratio}
        if not names:
            raise ValueError(f"meter {self.id}: profile {self.profile.name} reports primary "
                             "values (it has no CT/PT ratio registers)")
        ratio_of = {p.name: p for p in self.profile.points if p.name in names}
        for name in names:
            # a ratio that only currents use is the CT's; one that voltages use is the PT's
            users = [p for p in self.profile.points if name in p.ratio]
            is_pt = any(p.units == "V" for p in users)
            self.image.set_ratio(ratio_of[name].name, pt if is_pt else ct)

    def advance(self, dt_s: float, inverters_ac_w: float, t_ns: int | None = None) -> None:
        p = inverters_ac_w * (1.0 - self.loss) - self.standby_w
        exp_new, imp_new = max(p, 0.0), max(-p, 0.0)
        exp_old, imp_old = max(self.p_w, 0.0), max(-self.p_w, 0.0)
        self.e_export_wh += (exp_old + exp_new) / 2.0 * dt_s / 3600.0
        self.e_import_wh += (imp_old + imp_new) / 2.0 * dt_s / 3600.0
        self.p_w = p
        img = self.image
        img.set_faults(self.faults)
        self.publish("p_w", p)
        self.publish("e_export_kwh", self.e_export_wh / 1000.0)
        self.publish("e_import_kwh", self.e_import_wh / 1000.0)
        q = p * Q_SHARE
        for n in (1, 2, 3):
            self.publish(f"v_l{n}_v", GRID_V)
            self.publish(f"i_l{n}_a", math.hypot(p, q) / (3 * GRID_V))
            self.publish(f"p_l{n}_w", p / 3.0)
        for pair in ("12", "23", "31"):
            self.publish(f"v_l{pair}_v", GRID_V * SQRT3)
        self.publish("i_a", abs(p) / GRID_V)
        self.publish("f_hz", GRID_HZ)
        self.publish("q_var", q)
        self.publish("pf", abs(p) / math.hypot(p, q) if p else 1.0)
        if t_ns is not None:
            self.publish_clock(t_ns)
