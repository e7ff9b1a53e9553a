"""Expected energy: what a plant would make under a clear sky, from pvlib.

E_expected = sum over minutes t of POA_clear(t) / 1000 W/m2 x capacity_kwp_dc x PR_ref x 1/60 h

POA_clear is pvlib's Ineichen clear-sky irradiance (Linke turbidity from pvlib's monthly
climatology) at the plant's latitude, longitude and altitude, transposed onto its tilt and
azimuth (isotropic sky), evaluated at the middle of each minute. PR_ref (``kpi.pr_reference``,
default 0.8) stands for the losses every plant has (temperature, wiring, inverter, soiling).
A day of clouds therefore shows as a low capability: that is what the KPI measures.

pvlib works on pandas in bulk (about 0.1 s per plant-day): callers cache per plant and day,
and the collector calls it from a worker thread.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from config.schema import Plant

STEP_S = 60


@dataclass(frozen=True, slots=True)
class Geometry:
    latitude: float
    longitude: float
    altitude_m: float
    tilt_deg: float
    azimuth_deg: float
    kwp: float

    @classmethod
    def of(cls, plant: Plant) -> Geometry:
        return cls(plant.latitude, plant.longitude, plant.altitude_m, plant.tilt_deg,
                   plant.azimuth_deg, plant.capacity_kwp_dc)


def clear_sky_poa(g: Geometry, start_ns: int, end_ns: int) -> np.ndarray:
    """Plane-of-array clear-sky irradiance (W/m2) at the middle of each minute of the range."""
    import pandas as pd  # heavy imports, only where needed: the collector starts without them
    import pvlib

    warnings.filterwarnings("ignore", message=".*dayofyear.*", module="pvlib")
    n = max(0, (end_ns - start_ns) // (STEP_S * 10**9))
    if n == 0:
        return np.zeros(0)
    times = pd.date_range(pd.Timestamp(start_ns + STEP_S * 10**9 // 2, unit="ns", tz="UTC"),
                          periods=int(n), freq=f"{STEP_S}s")
    loc = pvlib.location.Location(g.latitude, g.longitude, "UTC", g.altitude_m)
    sp = loc.get_solarposition(times)
    cs = loc.get_clearsky(times, model="ineichen", solar_position=sp)
    poa = pvlib.irradiance.get_total_irradiance(
        g.tilt_deg, g.azimuth_deg, sp["apparent_zenith"], sp["azimuth"],
        cs["dni"], cs["ghi"], cs["dhi"])["poa_global"].to_numpy()
    return np.clip(np.nan_to_num(poa), 0.0, None)


def expected_energy_kwh(g: Geometry, start_ns: int, end_ns: int, pr: float) -> float:
    poa = clear_sky_poa(g, start_ns, end_ns)
    return float(poa.sum() / 1000.0 * g.kwp * pr * STEP_S / 3600.0)
