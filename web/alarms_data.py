"""The alarm state and the readings around an alarm, as the Alarms page shows them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from collector.alarms.model import Alarm, Transition
from collector.alarms.report import BASE_FIELDS, Clocks, Readings, alarm_fields, readings_around
from influx import names
from influx.errors import InfluxError, QueryError
from influx.query import InfluxReader
from web.plants_data import around
from web.svg import line_chart

if TYPE_CHECKING:
    from web.site import Site

RECENT_LIMIT = 200
CHART_SPAN_NS = 3600 * 10**9  # an hour either side of the raise (and of the clear)
CHART_FIELD = {"inverter": names.P_AC_W, "meter": names.P_W}


@dataclass(frozen=True, slots=True)
class AlarmStory:
    alarm: Alarm
    history: list[Transition]
    timezone: str
    readings: Readings | None
    chart: str  # SVG, or "" when there is nothing to draw
    chart_field: str
    readings_error: str


def load_list(site: Site, plant: str | None, severity: str | None, active: bool) -> list[Alarm]:
    return site.alarm_store().query(plant=plant, severity=severity, active=active,
                                    limit=RECENT_LIMIT)


def load_story(site: Site, alarm_id: int) -> AlarmStory:
    store = site.alarm_store()
    a = store.get(alarm_id)
    history = store.history(alarm_id)
    tz = site.timezone_of(a.plant)
    kind = site.device_kind(a.device)
    if kind is None:  # a plant-wide or site alarm: no device readings to show
        return AlarmStory(a, history, tz, None, "", "", "")
    field = CHART_FIELD.get(kind, "")
    readings, chart, error = None, "", ""
    try:
        with InfluxReader(site.config.influxdb) as reader:
            readings = readings_around(reader, a, kind, alarm_fields(a, site.config),
                                       Clocks(site.config))
        end = (a.ended_ns or a.raised_ns) + CHART_SPAN_NS
        with site.influx() as client:
            points = around(client, a.plant, a.device, kind, field,
                            a.raised_ns - CHART_SPAN_NS, min(end, site.clock.now_ns()))
        chart = line_chart(points, field, tz, a.raised_ns, "▲")
    except (QueryError, InfluxError) as e:
        error = str(e)
    return AlarmStory(a, history, tz, readings, chart, field, error)


__all__ = ["BASE_FIELDS", "AlarmStory", "load_list", "load_story"]
