"""Simulated inverters and meters: state from physics, counters as integrals of power.

Each device keeps its ground truth (energy counters in Wh as floats) apart from its register
image, so tests and the demo can compare what the collector stored with what really happened.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from config.profiles import Profile
from simulator.image import RegisterImage

GRID_V = 230.0
GRID_HZ = 50.0


@dataclass
class SimDevice:
    id: str
    plant: str
    unit_id: int
    profile: Profile
    image: RegisterImage = field(init=False)
    faults: tuple[int, ...] = ()
    # fault injection (simulator.faults): a field forced to a value (a counter reset) and
    # fields frozen at the first value written after the fault began (a stuck register)
    overrides: dict[str, float] = field(default_factory=dict)
    stuck: dict[str, float | None] = field(default_factory=dict)
    # what each field was last set to, faults included: the truth a test compares with
    published: dict[str, float] = field(default_factory=dict)

    def publish(self, name: str, value: float) -> None:
        """Write a canonical field to the register image, through any injected fault."""
        if name in self.stuck:
            held = self.stuck[name]
            if held is None:
                self.stuck[name] = held = value
            value = held
        value = self.overrides.get(name, value)
        if self.image.has_field(name):
            self.published[name] = value
        self.image.set_field(name, value)

    def __post_init__(self) -> None:
        self.image = RegisterImage(self.profile)
        self.image.set_text("manufacturer", "pvrelief")
        self.image.set_text("model", f"sim-{self.profile.name}")
        self.image.set_text("version", "1.0")
        self.image.set_text("serial", self.id.upper())


@dataclass
class SimInverter(SimDevice):
    rated_kw_ac: float = 100.0
    kwp_dc: float = 110.0
    variation: float = 1.0  # this unit's share of the plant's yield, around 1
    mppts: int = 2
    e_total_wh: float = 0.0  # ground truth lifetime counter
    e_day_wh: float = 0.0
    p_ac_w: float = 0.0
    string_loss: dict[int, float] = field(default_factory=dict)  # string n -> share lost

    def dc_factor(self) -> float:
        """What is left of the array's output with the injected string losses."""
        return sum(self._string_weights()) / self.mppts

    def _string_weights(self) -> list[float]:
        return [1.0 - self.string_loss.get(n, 0.0) for n in range(1, self.mppts + 1)]

    def advance(self, dt_s: float, p_ac_w: float, t_amb: float, t_cell: float,
                p_dc_w: float) -> None:
        """Integrate power over dt (trapezoid) and publish the new state."""
        self.e_total_wh += (self.p_ac_w + p_ac_w) / 2.0 * dt_s / 3600.0
        self.e_day_wh += (self.p_ac_w + p_ac_w) / 2.0 * dt_s / 3600.0
        self.p_ac_w = p_ac_w
        img = self.image
        running = p_ac_w > 0.0
        img.set_status("fault" if self.faults else ("running" if running else "sleeping"))
        img.set_faults(self.faults)
        self.publish("p_ac_w", p_ac_w)
        self.publish("e_total_kwh", self.e_total_wh / 1000.0)
        self.publish("e_day_kwh", self.e_day_wh / 1000.0)
        i_phase = p_ac_w / (3 * GRID_V)
        self.publish("i_ac_a", i_phase * 3)
        for n in (1, 2, 3):
            self.publish(f"i_ac_l{n}_a", i_phase)
            self.publish(f"v_ac_l{n}_v", GRID_V + (n - 2) * 0.7 if running else GRID_V)
        self.publish("f_ac_hz", GRID_HZ + 0.01 * math.sin(self.e_total_wh))
        v_dc = 620.0 - 0.08 * (t_cell - 25.0) * 20 if running else 0.0
        self.publish("p_dc_w", p_dc_w)
        self.publish("v_dc_v", v_dc)
        self.publish("i_dc_a", p_dc_w / v_dc if v_dc else 0.0)
        weights = self._string_weights()
        for n, w in enumerate(weights, start=1):
            p = p_dc_w * w / sum(weights) if sum(weights) else 0.0
            self.publish(f"pv{n}_p_w", p)
            self.publish(f"pv{n}_v_v", v_dc)
            self.publish(f"pv{n}_i_a", p / v_dc if v_dc else 0.0)
        load = p_ac_w / (self.rated_kw_ac * 1000.0)
        self.publish("t_internal_c", t_amb + 5.0 + 25.0 * load)
        self.publish("t_heatsink_c", t_amb + 3.0 + 35.0 * load)
        self.publish("r_insulation_mohm", 3.0)

    def new_day(self) -> None:
        self.e_day_wh = 0.0


@dataclass
class SimMeter(SimDevice):
    loss: float = 0.015
    e_export_wh: float = 0.0
    e_import_wh: float = 0.0
    p_w: float = 0.0
    standby_w: float = 0.0  # what the plant draws at night (imported)

    def advance(self, dt_s: float, inverters_ac_w: float) -> None:
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
        for n in (1, 2, 3):
            self.publish(f"v_l{n}_v", GRID_V)
            self.publish(f"i_l{n}_a", abs(p) / (3 * GRID_V))
        self.publish("i_a", abs(p) / GRID_V)
        self.publish("f_hz", GRID_HZ)
