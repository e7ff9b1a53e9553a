"""What the alarm detectors know of the configured plants and devices, computed once."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from collector.pipeline.counters import Rating, device_ratings
from config.profiles import ProfileRegistry
from config.schema import Config


@dataclass(frozen=True, slots=True)
class PlantInfo:
    id: str
    name: str
    village: str | None
    latitude: float
    longitude: float
    timezone: str
    kwp: float
    kw_ac: float
    inverters: tuple[str, ...]
    meters: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    id: str
    plant: str
    village: str | None
    kind: str  # inverter | meter
    profile: str  # the alarm catalog it is named from
    interval_s: float
    timeout_s: float
    sleeps: bool  # an inverter in night mode: silent after sunset is expected
    rating_kw: float
    kwp: float  # inverters: their share of the plant's DC capacity (by rating); meters: 0


@dataclass(frozen=True, slots=True)
class FleetInfo:
    plants: dict[str, PlantInfo]
    devices: dict[str, DeviceInfo]
    night_elevation_deg: float


def fleet_info(config: Config, registry: ProfileRegistry,
               ratings: Mapping[str, Rating] | None = None) -> FleetInfo:
    """``ratings``: the devices' ratings when the caller has them already (the collector's
    counter guard does); computed from ``config`` otherwise."""
    if ratings is None:
        ratings = device_ratings(config, registry)
    timeouts = {gw.id: gw.timeout_s for _, gw in config.gateways()}
    cs = config.collector
    plants: dict[str, PlantInfo] = {}
    devices: dict[str, DeviceInfo] = {}
    for p in config.plants():
        kinds = {d.id: (registry[d.profile].kind if d.profile in registry else "inverter")
                 for d in p.all_devices()}
        inverters = tuple(d.id for d in p.all_devices() if kinds[d.id] == "inverter")
        total_kw = sum(ratings[i].max_kw for i in inverters) or 1.0
        plants[p.id] = PlantInfo(p.id, p.name, p.village, p.latitude, p.longitude, p.timezone,
                                 p.capacity_kwp_dc, p.capacity_kw_ac, inverters,
                                 tuple(d for d, k in kinds.items() if k == "meter"))
        for d in p.all_devices():
            kind = kinds[d.id]
            rating = ratings[d.id].max_kw
            timeout = (timeouts.get(d.gateway) if d.gateway else None) or cs.timeout_s
            devices[d.id] = DeviceInfo(
                d.id, p.id, p.village, kind, d.profile, d.poll_interval_s, timeout,
                sleeps=kind == "inverter" and d.night_mode, rating_kw=rating,
                kwp=p.capacity_kwp_dc * rating / total_kw if kind == "inverter" else 0.0)
    return FleetInfo(plants, devices, cs.night_elevation_deg)
