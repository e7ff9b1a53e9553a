"""What the Plants page shows, read from InfluxDB and the config.

Two queries give every device's latest point (``GROUP BY plant, device ORDER BY time DESC
LIMIT 1`` over the last two days); two per time zone give every settlement meter's export
counter before and since local midnight. So the page costs four queries whatever the fleet's
size, not one per device.

- **Power now**: the sum of the inverters' latest ``p_ac_w`` among those online.
- **Expected**: clear-sky irradiance on the plant's plane (pvlib, Ineichen; reports/kpi/expected.py,
  the generation-capability KPI's formula) x its DC capacity x ``kpi.pr_reference`` (0.8),
  capped at its AC capacity: what a clean, healthy plant would make under a clear sky now.
- **Energy today**: the settlement meter's ``e_export_kwh`` now minus its last reading at or
  before local midnight, as the allocator counts a day. The settlement meter is the plant's
  ``meter`` in the allocation inputs, else the plant's only meter.
- **Online rate**: devices whose latest point is at most three poll intervals old, over the
  devices that should answer; an inverter that went quiet while the sun is down is asleep
  (collector/night.py), not offline, and is left out of both.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from datetime import datetime, time
from zoneinfo import ZoneInfo

from collector.night import is_night
from config.profiles import ProfileRegistry
from config.schema import Config, Plant
from influx import names
from influx.client import InfluxClient
from influx.influxql import quote_ident, quote_literal
from reports.kpi.expected import Geometry, clear_sky_poa

PR_REFERENCE = 0.8
WINDOW_NS = 2 * 86_400 * 10**9
STALE_POLLS = 3


@dataclass(frozen=True, slots=True)
class DeviceNow:
    id: str
    kind: str  # inverter | meter
    profile: str
    last_ns: int | None
    power_w: float | None
    status: str | None
    faults: str | None
    energy_kwh: float | None  # the lifetime counter: e_total_kwh or e_export_kwh
    online: bool
    asleep: bool


@dataclass(slots=True)
class PlantNow:
    plant: Plant
    power_kw: float | None
    expected_kw: float
    energy_today_kwh: float | None
    settlement_meter: str | None
    online: int
    expected_online: int
    devices: list[DeviceNow] = field(default_factory=list)

    @property
    def online_rate(self) -> float | None:
        return self.online / self.expected_online if self.expected_online else None

    @property
    def ratio(self) -> float | None:
        if self.power_kw is None or self.expected_kw < 1e-3 * self.plant.capacity_kw_ac:
            return None
        return self.power_kw / self.expected_kw


def _latest(client: InfluxClient, measurement: str, start_ns: int, now_ns: int
            ) -> dict[tuple[str, str], dict[str, object]]:
    q = (f"SELECT * FROM {quote_ident(measurement)} WHERE time > {start_ns} AND "
         f"time <= {now_ns} GROUP BY {quote_ident(names.PLANT)}, {quote_ident(names.DEVICE)} "
         "ORDER BY time DESC LIMIT 1")
    out: dict[tuple[str, str], dict[str, object]] = {}
    for s in client.query(q):
        tags = s.get("tags") or {}
        for row in s["values"][:1]:
            out[(tags.get(names.PLANT, ""), tags.get(names.DEVICE, ""))] = dict(
                zip(s["columns"], row, strict=True))
    return out


def _counters(client: InfluxClient, start_ns: int, end_ns: int) -> dict[tuple[str, str], float]:
    q = (f"SELECT last({quote_ident(names.E_EXPORT_KWH)}) FROM {quote_ident(names.METER)} "
         f"WHERE time > {start_ns} AND time <= {end_ns} "
         f"GROUP BY {quote_ident(names.PLANT)}, {quote_ident(names.DEVICE)}")
    out = {}
    for s in client.query(q):
        tags = s.get("tags") or {}
        for row in s["values"][:1]:
            if row[1] is not None:
                out[(tags.get(names.PLANT, ""), tags.get(names.DEVICE, ""))] = float(row[1])
    return out


def local_midnight_ns(now_ns: int, tz: str) -> int:
    zone = ZoneInfo(tz)
    today = datetime.fromtimestamp(now_ns / 1e9, zone).date()
    return int(datetime.combine(today, time(), zone).timestamp()) * 10**9


def expected_kw(plant: Plant, minute_ns: int, pr: float = PR_REFERENCE) -> float:
    """Clear-sky expected AC power at the plant for the minute starting ``minute_ns``: the
    KPIs' formula (reports/kpi/expected.py) for one minute, capped at the AC capacity."""
    return _expected_kw(Geometry.of(plant), plant.capacity_kw_ac, minute_ns, pr)


@functools.lru_cache(maxsize=4096)
def _expected_kw(g: Geometry, kw_ac: float, minute_ns: int, pr: float) -> float:
    poa = clear_sky_poa(g, minute_ns, minute_ns + 60 * 10**9)
    w_m2 = float(poa[0]) if poa.size and math.isfinite(poa[0]) else 0.0
    return min(w_m2 / 1000.0 * g.kwp * pr, kw_ac)


def _num(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and math.isfinite(value) else None


def plants_now(client: InfluxClient, config: Config, registry: ProfileRegistry,
               settlement: dict[str, str], now_ns: int) -> list[PlantNow]:
    """Every plant of the config as it is at ``now_ns`` (the collector's clock)."""
    latest = _latest(client, names.INVERTER, now_ns - WINDOW_NS, now_ns)
    latest |= _latest(client, names.METER, now_ns - WINDOW_NS, now_ns)
    midnights = {p.timezone: local_midnight_ns(now_ns, p.timezone) for p in config.plants()}
    before = {tz: _counters(client, m - WINDOW_NS, m) for tz, m in midnights.items()}
    since = {tz: _counters(client, m, now_ns) for tz, m in midnights.items()}
    out = []
    for plant in config.plants():
        night = is_night(plant.latitude, plant.longitude, now_ns,
                         config.collector.night_elevation_deg)
        devices, power, online, expected_online = [], 0.0, 0, 0
        meters = []
        for d in plant.all_devices():
            kind = registry[d.profile].kind if d.profile in registry else "inverter"
            if kind == "meter":
                meters.append(d.id)
            point = latest.get((plant.id, d.id), {})
            last = int(point["time"]) if "time" in point else None  # type: ignore[call-overload]
            fresh = last is not None and now_ns - last <= STALE_POLLS * d.poll_interval_s * 1e9
            asleep = not fresh and kind == "inverter" and d.night_mode and night
            p_w = _num(point.get(names.P_AC_W if kind == "inverter" else names.P_W))
            if fresh and kind == "inverter" and p_w is not None:
                power += p_w
            online += fresh
            expected_online += not asleep
            devices.append(DeviceNow(
                d.id, kind, d.profile, last, p_w,
                point.get(names.STATUS) if isinstance(point.get(names.STATUS), str) else None,
                point.get(names.FAULTS) if isinstance(point.get(names.FAULTS), str) else None,
                _num(point.get(names.E_TOTAL_KWH if kind == "inverter" else names.E_EXPORT_KWH)),
                fresh, asleep))
        meter = settlement.get(plant.id) or (meters[0] if len(meters) == 1 else None)
        energy = None
        if meter is not None:
            a = before[plant.timezone].get((plant.id, meter))
            b = since[plant.timezone].get((plant.id, meter))
            if a is not None and b is not None and b >= a:
                energy = b - a
        any_fresh = any(x.online and x.kind == "inverter" for x in devices)
        out.append(PlantNow(plant, power / 1000 if any_fresh else None,
                            expected_kw(plant, now_ns // (60 * 10**9) * 60 * 10**9,
                                        config.kpi.pr_reference),
                            energy, meter, online, expected_online, devices))
    return out


def around(client: InfluxClient, plant: str, device: str, measurement: str, field_name: str,
           start_ns: int, end_ns: int) -> list[tuple[int, float]]:
    """(time ns, value) of one field of one device in [start, end], for a small chart."""
    q = (f"SELECT {quote_ident(field_name)} FROM {quote_ident(measurement)} "
         f"WHERE {quote_ident(names.PLANT)} = {quote_literal(plant)} AND "
         f"{quote_ident(names.DEVICE)} = {quote_literal(device)} AND time >= {start_ns} AND "
         f"time <= {end_ns}")
    rows = [v for s in client.query(q) for v in s["values"]]
    return [(int(t), float(v)) for t, v in rows if isinstance(v, int | float)]

