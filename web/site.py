"""Everything the page's handlers share: the config, the clock, the state database, InfluxDB.

Built once by ``web.app.create_app``; handlers reach it as ``request.app.state.site``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, select_autoescape

from collector.alarms.model import Alarm
from collector.alarms.store import AlarmStore
from config.profiles import ProfileRegistry
from config.schema import Config
from config.web_settings import WebSettings
from influx.client import InfluxClient
from timebase.clock import Clock
from web.metrics import WebMetrics
from web.state import StateDB

PACKAGE = Path(__file__).parent


def templates() -> Environment:
    env = Environment(loader=FileSystemLoader(PACKAGE / "templates"),
                      autoescape=select_autoescape(["html"]), trim_blocks=True,
                      lstrip_blocks=True)
    return env


@dataclass
class Site:
    config: Config
    registry: ProfileRegistry
    clock: Clock
    state: StateDB
    env: Environment = field(default_factory=templates)
    metrics: WebMetrics = field(default_factory=WebMetrics)
    settlement: dict[str, str] = field(default_factory=dict)  # plant -> its settlement meter
    timezone: str = "Asia/Shanghai"  # the allocation inputs': their periods' days

    @property
    def settings(self) -> WebSettings:
        return self.config.web

    @property
    def revenue_dir(self) -> Path:
        return Path(self.settings.revenue_dir)

    def today(self) -> date:
        """The date by the page's clock where the allocation inputs live (Asia/Shanghai)."""
        return datetime.fromtimestamp(self.clock.now_ns() / 1e9, ZoneInfo(self.timezone)).date()

    def timezone_of(self, plant: str) -> str:
        return next((p.timezone for p in self.config.plants() if p.id == plant), self.timezone)

    def device_kind(self, device: str) -> str | None:
        """inverter or meter for a configured device; None for anything else."""
        for _, d in self.config.devices():
            if d.id == device:
                return self.registry[d.profile].kind if d.profile in self.registry else None
        return None

    def alarm_store(self) -> AlarmStore:
        return self.state.alarms()

    def acknowledge(self, alarm_id: int, by: str, note: str) -> Alarm:
        """Through ``AlarmStore.acknowledge``, as ``pvrelief alarms ack`` does, stamped by the
        page's clock (the wall clock, or the simulator's in the demo and the tests)."""
        return self.alarm_store().acknowledge(alarm_id, by, note, self.clock.now_ns())

    def open_alarms(self, plant: str | None = None) -> list[Alarm]:
        return self.alarm_store().query(plant=plant, active=True)

    def influx(self) -> InfluxClient:
        return InfluxClient(self.config.influxdb)
