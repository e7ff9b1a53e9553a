"""Night mode: is the sun up at a plant? An inverter silent after sunset is asleep, not failed.

Huawei and Sungrow inverters power their communication board from the DC side, so they stop
answering Modbus once the panels go dark. The collector then polls them slowly and quietly and
resumes at dawn. The sun's elevation comes from the NOAA low-precision formulas (about 0.5
degrees; good enough to tell night from day, and far cheaper than pvlib's per-call pandas).
"""

from __future__ import annotations

import math

DAY_S = 86_400.0


def sun_elevation_deg(latitude: float, longitude: float, t_ns: int) -> float:
    """The sun's elevation above the horizon at the place and UTC instant, in degrees."""
    days = t_ns / 1e9 / DAY_S - 10_957.5  # days since J2000.0 (2000-01-01 12:00 UTC)
    mean_long = math.radians((280.460 + 0.9856474 * days) % 360)
    anomaly = math.radians((357.528 + 0.9856003 * days) % 360)
    ecl_long = mean_long + math.radians(1.915 * math.sin(anomaly)
                                        + 0.020 * math.sin(2 * anomaly))
    obliquity = math.radians(23.439 - 0.0000004 * days)
    declination = math.asin(math.sin(obliquity) * math.sin(ecl_long))
    right_asc = math.atan2(math.cos(obliquity) * math.sin(ecl_long), math.cos(ecl_long))
    gmst_h = (18.697374558 + 24.06570982441908 * days) % 24
    hour_angle = math.radians(gmst_h * 15 + longitude) - right_asc
    lat = math.radians(latitude)
    sin_el = (math.sin(lat) * math.sin(declination)
              + math.cos(lat) * math.cos(declination) * math.cos(hour_angle))
    return math.degrees(math.asin(max(-1.0, min(1.0, sin_el))))


def is_night(latitude: float, longitude: float, t_ns: int, below_deg: float = 3.0) -> bool:
    return sun_elevation_deg(latitude, longitude, t_ns) < below_deg
