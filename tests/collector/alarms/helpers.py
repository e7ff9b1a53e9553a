"""Small builders for alarm tests: a one-plant config, readings, a lifecycle."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from collector.alarm_catalog import load_alarm_catalog
from collector.alarms.builtin import Builtins
from collector.alarms.fleet import FleetInfo, fleet_info
from collector.alarms.lifecycle import Lifecycle
from collector.alarms.model import Transition
from collector.reading import Quality, Reading
from config.profiles import load_registry
from config.schema import Config

S = 1_000_000_000
# Gonghe on the June solstice: sunrise about 06:15, sunset about 20:20 Beijing time
NOON = int(datetime(2020, 6, 21, 5, 0, tzinfo=UTC).timestamp()) * S  # 13:00 local
MIDNIGHT = int(datetime(2020, 6, 20, 16, 0, tzinfo=UTC).timestamp()) * S  # 00:00 local
REGISTRY = load_registry()
CATALOG = load_alarm_catalog()


def config(alarms: dict[str, Any] | None = None, inverters: int = 3, meter: bool = True,
           profile: str = "huawei-sun2000", interval_s: float = 60,
           **top: Any) -> Config:
    devices: list[dict[str, Any]] = [
        {"id": "inv", "profile": profile, "port": 15001, "unit_id": 1, "repeat": inverters,
         "poll_interval_s": interval_s}]
    if meter:
        devices.append({"id": "meter", "profile": "sunspec-meter", "port": 15001,
                        "unit_id": 100, "poll_interval_s": interval_s})
    return Config.model_validate({
        "site": {"id": "site"}, "alarms": alarms or {}, **top,
        "counties": [{"id": "c", "plants": [{
            "id": "p1", "name": "甲村电站", "capacity_kwp_dc": 300, "capacity_kw_ac": 250,
            "latitude": 36.27, "longitude": 100.62, "altitude_m": 2800,
            "devices": devices}]}]})


def fleet(cfg: Config) -> FleetInfo:
    return fleet_info(cfg, REGISTRY)


def builtins(cfg: Config) -> Builtins:
    return Builtins(cfg.alarms, CATALOG)


def lifecycle(cfg: Config) -> Lifecycle:
    return Lifecycle(cfg.alarms)


def inverter(device: str, ts_ns: int, faults: tuple[int, ...] | None = (),
             invalid: tuple[str, ...] = (), **fields: float | None) -> Reading:
    quality = {f: Quality.INVALID for f in invalid}
    for f in invalid:
        fields.setdefault(f, None)
    return Reading("inverter", "p1", device, ts_ns, dict(fields), quality, "running", faults,
                   counters={"e_total_kwh": "lifetime"} if "e_total_kwh" in fields else {})


def meter(device: str, ts_ns: int, **fields: float | None) -> Reading:
    return Reading("meter", "p1", device, ts_ns, dict(fields))


def states(transitions: list[Transition]) -> list[tuple[str, str, str]]:
    return [(t.alarm.device, t.alarm.definition.id, t.state.value) for t in transitions]
