"""Compute a period's KPIs for some plants and write them: what ``pvrelief kpi`` does."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from collector.alarms.store import AlarmStore
from config.profiles import ProfileRegistry
from config.schema import Config
from influx.query import InfluxReader
from reports.kpi.collect import KpiCollector
from reports.kpi.compute import Kpi
from reports.kpi.publish import to_reading, write
from statedb.errors import StateError


@dataclass(frozen=True, slots=True)
class PlantKpis:
    plant: str
    days: list[Kpi]
    month: Kpi | None

    @property
    def all(self) -> list[Kpi]:
        return self.days + ([self.month] if self.month else [])


def open_store(config: Config) -> AlarmStore | None:
    """The alarm state, or None where no collector has kept any (then no alarms count)."""
    try:
        return AlarmStore(config.state_path, create=False)
    except StateError:
        return None


def compute(config: Config, registry: ProfileRegistry, period: str, plants: list[str],
            now_ns: int, store: AlarmStore | None) -> list[PlantKpis]:
    with InfluxReader(config.influxdb) as reader:
        kc = KpiCollector(config, registry, reader, store, now_ns)
        return [PlantKpis(pid, *kc.kpis(pid, period))
                for pid in plants or [p.id for p in config.plants()]]


def write_points(config: Config, results: list[PlantKpis]) -> int:
    villages = {p.id: p.village for p in config.plants()}
    points = [to_reading(k, villages.get(r.plant)) for r in results for k in r.all]
    if points:
        asyncio.run(write(config.influxdb, points))
    return len(points)
