"""Everything the page's handlers share: the config, the clock, the state database, InfluxDB.

Built once by ``web.app.create_app``; handlers reach it as ``request.app.state.site``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, select_autoescape

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
    alarms: object | None = None  # the alarm store, once the state database has one

    @property
    def settings(self) -> WebSettings:
        return self.config.web

    @property
    def revenue_dir(self) -> Path:
        return Path(self.settings.revenue_dir)

    def today(self) -> date:
        """The date by the page's clock where the allocation inputs live (Asia/Shanghai)."""
        return datetime.fromtimestamp(self.clock.now_ns() / 1e9, ZoneInfo(self.timezone)).date()

    def influx(self) -> InfluxClient:
        return InfluxClient(self.config.influxdb)
