"""Plant physics: pvlib clear-sky irradiance at the plant, seeded clouds, temperature, AC power.

Each simulated day is computed once per plant, vectorised over one-minute steps, and then
interpolated. Clouds come from a random generator seeded by (seed, plant, day), so a day looks
the same whenever the simulation starts.
"""

from __future__ import annotations

import hashlib
import warnings
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pvlib

from config.schema import Plant

# pvlib 0.16 still calls DatetimeIndex.dayofyear, which pandas 3 deprecates; harmless here.
warnings.filterwarnings("ignore", message=".*dayofyear.*", module="pvlib")

STEP_S = 60
TEMP_COEFF = -0.004  # per degree C, crystalline silicon
DERATE = 0.90  # soiling, mismatch, DC wiring
INVERTER_EFF = 0.975


def _seed(*parts: object) -> int:
    return int.from_bytes(hashlib.sha256(repr(parts).encode()).digest()[:8], "little")


class PlantPhysics:
    """Per-minute DC irradiance and ambient temperature for one plant, day by day."""

    def __init__(self, plant: Plant, seed: int, cloudiness: float) -> None:
        self.plant = plant
        self.seed = seed
        self.cloudiness = cloudiness
        self.location = pvlib.location.Location(
            plant.latitude, plant.longitude, plant.timezone, plant.altitude_m
        )
        self._tz = ZoneInfo(plant.timezone)
        self._days: dict[int, tuple[int, np.ndarray, np.ndarray]] = {}

    def _day(self, day_start_ns: int) -> tuple[int, np.ndarray, np.ndarray]:
        if day_start_ns in self._days:
            return self._days[day_start_ns]
        start = pd.Timestamp(day_start_ns, unit="ns", tz="UTC")
        times = pd.date_range(start, periods=24 * 3600 // STEP_S + 1, freq=f"{STEP_S}s")
        sp = self.location.get_solarposition(times)
        cs = self.location.get_clearsky(times, model="simplified_solis", solar_position=sp)
        poa = pvlib.irradiance.get_total_irradiance(
            self.plant.tilt_deg, self.plant.azimuth_deg, sp["apparent_zenith"], sp["azimuth"],
            cs["dni"], cs["ghi"], cs["dhi"],
        )["poa_global"].to_numpy()
        rng = np.random.default_rng(_seed(self.seed, self.plant.id, day_start_ns))
        # clouds: a smoothed random walk of "how much is blocked", scaled by cloudiness
        noise = np.convolve(rng.normal(size=times.size + 30), np.ones(30) / 30, "valid")
        noise = noise[: times.size]
        blocked = np.clip(0.5 + 2.0 * noise, 0.0, 1.0) * self.cloudiness
        poa = np.clip(poa, 0.0, None) * (1.0 - blocked)
        local_hour = ((np.arange(times.size) * STEP_S / 3600.0)
                      + self._utc_offset_h(day_start_ns)) % 24
        t_amb = 8.0 + 8.0 * np.sin((local_hour - 9.0) / 24.0 * 2 * np.pi)
        self._days = {day_start_ns: (day_start_ns, poa, t_amb)}  # keep one day: bounded memory
        return self._days[day_start_ns]

    def _utc_offset_h(self, ns: int) -> float:
        off = datetime.fromtimestamp(ns / 1e9, UTC).astimezone(self._tz).utcoffset()
        return (off or timedelta()).total_seconds() / 3600.0

    def conditions(self, t_ns: int) -> tuple[float, float]:
        """(plane-of-array irradiance W/m2, ambient temperature C) at ``t_ns``."""
        day_ns = 86_400 * 10**9
        day_start = t_ns - t_ns % day_ns
        _, poa, t_amb = self._day(day_start)
        x = (t_ns - day_start) / 1e9 / STEP_S
        i = int(x)
        f = x - i
        return (float(poa[i] * (1 - f) + poa[i + 1] * f),
                float(t_amb[i] * (1 - f) + t_amb[i + 1] * f))


    def conditions_series(self, ts_ns: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``conditions`` for many instants at once (the day so far, when a run starts)."""
        day_ns = 86_400 * 10**9
        poa = np.empty(ts_ns.size)
        t_amb = np.empty(ts_ns.size)
        starts = ts_ns - ts_ns % day_ns
        for day_start in np.unique(starts):
            _, day_poa, day_t = self._day(int(day_start))
            sel = starts == day_start
            x = (ts_ns[sel] - day_start) / 1e9 / STEP_S
            grid = np.arange(day_poa.size)
            poa[sel] = np.interp(x, grid, day_poa)
            t_amb[sel] = np.interp(x, grid, day_t)
        return poa, t_amb


def dc_power_kw(kwp: np.ndarray, poa: float | np.ndarray, t_amb: float | np.ndarray
                ) -> tuple[np.ndarray, float]:
    """DC power of arrays of ``kwp`` each, and the cell temperature (arrays broadcast)."""
    t_cell = t_amb + poa / 800.0 * 25.0
    p = kwp * poa / 1000.0 * (1.0 + TEMP_COEFF * (t_cell - 25.0)) * DERATE
    return np.clip(p, 0.0, None), t_cell


def ac_power_kw(p_dc: np.ndarray, rated_ac: np.ndarray) -> np.ndarray:
    return np.minimum(p_dc * INVERTER_EFF, rated_ac)
