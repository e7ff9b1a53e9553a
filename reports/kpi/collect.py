"""The KPIs' inputs: readings counted in InfluxDB, alarms from the state database, the sun.

One plant-day at a time (a month is its days, see compute.month_of), so a month's questions
to InfluxDB are a day's size each. Slots are counted with ``GROUP BY time(<interval>)``, whose
buckets InfluxDB aligns to the epoch, as the collector's poll schedule is.
"""

from __future__ import annotations

import calendar
import re
from collections import defaultdict
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from collector.alarms.fleet import DeviceInfo, FleetInfo, PlantInfo, fleet_info
from collector.alarms.model import Alarm, Transition
from collector.alarms.store import AlarmStore
from collector.night import sun_elevation_deg
from config.profiles import ProfileRegistry
from config.schema import Config
from influx.query import InfluxReader, quote
from reports.kpi.compute import Kpi, S, fault_seconds, month_of, om_counts
from reports.kpi.errors import PeriodError
from reports.kpi.expected import Geometry, expected_energy_kwh

KEY_FIELD = {"inverter": "p_ac_w", "meter": "e_export_kwh"}
COUNTER = {"inverter": "e_total_kwh", "meter": "e_export_kwh"}


def parse_period(text: str) -> tuple[str, list[date]]:
    """'2020-06' (a month) or '2020-06-21' (a day) -> (span, its days)."""
    if re.fullmatch(r"\d{4}-\d{2}", text):
        y, m = map(int, text.split("-"))
        if not 1 <= m <= 12:
            raise PeriodError(f"no month {text!r}")
        return "month", [date(y, m, d) for d in range(1, calendar.monthrange(y, m)[1] + 1)]
    try:
        return "day", [date.fromisoformat(text)]
    except ValueError:
        raise PeriodError(f"{text!r} is neither a month (2020-06) nor a day (2020-06-21)") \
            from None


def day_bounds(day: date, tz: str) -> tuple[int, int]:
    zone = ZoneInfo(tz)
    a = datetime.combine(day, datetime.min.time(), zone)
    b = datetime.combine(day + timedelta(days=1), datetime.min.time(), zone)
    return int(a.timestamp()) * S, int(b.timestamp()) * S


class KpiCollector:
    def __init__(self, config: Config, registry: ProfileRegistry, reader: InfluxReader,
                 store: AlarmStore | None, now_ns: int) -> None:
        self.config = config
        self.fleet: FleetInfo = fleet_info(config, registry)
        self.reader = reader
        self.store = store
        self.now_ns = now_ns
        self.geometry = {p.id: Geometry.of(p) for p in config.plants()}
        self._alarms: dict[str, tuple[list[Alarm], dict[int, list[Transition]]]] = {}
        self._slot_cache: dict[tuple[object, ...], dict[str, set[int]]] = {}

    def plant(self, plant_id: str) -> PlantInfo:
        if plant_id not in self.fleet.plants:
            raise PeriodError(f"no plant {plant_id!r} in the config "
                              f"(plants: {', '.join(self.fleet.plants)})")
        return self.fleet.plants[plant_id]

    # -- one period ------------------------------------------------------------------------
    def kpis(self, plant_id: str, period: str) -> tuple[list[Kpi], Kpi | None]:
        """Each day's KPIs, and the month's when ``period`` is a month."""
        span, days = parse_period(period)
        plant = self.plant(plant_id)
        days_kpi = [self.day(plant, d) for d in days
                    if day_bounds(d, plant.timezone)[0] < self.now_ns]
        if span == "day" or not days_kpi:
            return days_kpi, None
        first, last = days_kpi[0], days_kpi[-1]
        alarms, _ = self._alarms_of(plant.id)
        om = om_counts(alarms, first.start_ns, last.end_ns, self.config.kpi.ack_target_s)
        return days_kpi, month_of(days_kpi, period, om)

    def day(self, plant: PlantInfo, day: date) -> Kpi:
        a, b = day_bounds(day, plant.timezone)
        end = min(b, self.now_ns)
        devices = [self.fleet.devices[d] for d in (*plant.inverters, *plant.meters)]
        expected = received = 0
        for d in devices:
            slots = self._expected_slots(plant, d, a, end)
            expected += len(slots)
            received += len(slots & self._received_slots(plant, d, a, end))
        alarms, histories = self._alarms_of(plant.id)
        fault_s = fault_seconds([d.id for d in devices], alarms, histories, a, end)
        om = om_counts(alarms, a, end, self.config.kpi.ack_target_s)
        expected_kwh = expected_energy_kwh(self.geometry[plant.id], a, end,
                                           self.config.kpi.pr_reference)
        return Kpi(plant.id, day.isoformat(), "day", a, end, expected, received,
                   len(devices) * (end - a) / S, fault_s, self._energy(plant, a, end),
                   expected_kwh, om.alarms, om.acknowledged, om.in_target, om.cleared,
                   om.ack_s_total, om.clear_s_total)

    # -- inputs ----------------------------------------------------------------------------
    def _expected_slots(self, plant: PlantInfo, d: DeviceInfo, a: int, b: int) -> set[int]:
        step = int(d.interval_s * S)
        first = -(-a // step) * step
        slots = range(first, b, step)
        if not d.sleeps:
            return set(slots)
        night = self.fleet.night_elevation_deg
        return {t for t in slots
                if sun_elevation_deg(plant.latitude, plant.longitude, t) >= night}

    def _received_slots(self, plant: PlantInfo, d: DeviceInfo, a: int, b: int) -> set[int]:
        key = (plant.id, d.kind, d.interval_s, a, b)
        if key not in self._slot_cache:
            self._slot_cache.clear()  # one day at a time: keep only this one's
            step = f"{int(d.interval_s * 1000)}ms"
            q = (f'SELECT count("{KEY_FIELD[d.kind]}") FROM "{d.kind}" WHERE "plant" = '
                 f'{quote(plant.id)} AND time >= {a} AND time < {b} '
                 f'GROUP BY time({step}), "device" fill(none)')
            by_device: dict[str, set[int]] = defaultdict(set)
            for s in self.reader.query(q):
                by_device[s["tags"]["device"]] |= {int(t) for t, n in s["values"] if n}
            self._slot_cache[key] = by_device
        return self._slot_cache[key].get(d.id, set())

    def _energy(self, plant: PlantInfo, a: int, b: int) -> float | None:
        for kind in ("meter", "inverter"):
            ids = plant.meters if kind == "meter" else plant.inverters
            if not ids:
                continue
            q = (f'SELECT spread("{COUNTER[kind]}") FROM "{kind}" WHERE "plant" = '
                 f"{quote(plant.id)} AND time >= {a} AND time < {b} GROUP BY \"device\"")
            values = [v[1] for s in self.reader.query(q) if s["tags"]["device"] in ids
                      for v in s["values"] if v[1] is not None]
            if values:
                return float(sum(values))
        return None

    def _alarms_of(self, plant_id: str) -> tuple[list[Alarm], dict[int, list[Transition]]]:
        if plant_id not in self._alarms:
            if self.store is None:
                self._alarms[plant_id] = ([], {})
            else:
                found = self.store.query(plant=plant_id)
                self._alarms[plant_id] = (found, self.store.transitions_for(
                    [x.id for x in found]))
        return self._alarms[plant_id]
