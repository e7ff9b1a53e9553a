"""Alarms: what is on now, what happened, and where, from the ``alarm`` measurement.

Every alarm transition is a point (collector/alarms/points.py) tagged plant, device, alarm, kind and
severity, with ``state`` and ``active`` (1 while the condition is on). "On now" is a subquery
taking each alarm's last transition in the range and an outer WHERE on ``active``: an alarm
raised before the dashboard's range and still on shows only if one of its transitions falls
inside it, hence the long default range.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as dash

from grafana.influxql import PLANT, TIMEZONE, Target, dashboard
from grafana.panels import grid, series, single

UID = "pvrelief-alarms"
TZ = f"tz('{TIMEZONE}')"
BY_ALARM = 'GROUP BY "plant", "device", "alarm", "severity"'

ACTIVE = (
    'SELECT "state", "name_zh", "name", "seq", "by", "detail" FROM (SELECT last("active") AS '
    '"active", last("state") AS "state", last("name_zh") AS "name_zh", last("name") AS "name", '
    'last("seq") AS "seq", last("by") AS "by", last("detail") AS "detail" FROM "alarm" '
    f'WHERE {PLANT} AND $timeFilter {BY_ALARM}) WHERE "active" = 1 AND $timeFilter {BY_ALARM}'
)
ACTIVE_BY_PLANT = (
    'SELECT count("active") FROM (SELECT last("active") AS "active" FROM "alarm" '
    f'WHERE {PLANT} AND $timeFilter {BY_ALARM}) WHERE "active" = 1 AND $timeFilter '
    'GROUP BY "plant"'
)
ACTIVE_MAJOR = (
    'SELECT count("active") FROM (SELECT last("active") AS "active" FROM "alarm" '
    f'WHERE {PLANT} AND "severity" = \'major\' AND $timeFilter {BY_ALARM}) '
    'WHERE "active" = 1 AND $timeFilter'
)
RAISED_PER_DAY = (
    f'SELECT count("seq") FROM "alarm" WHERE {PLANT} AND "state" = \'raised\' '
    f'AND $timeFilter GROUP BY time(1d), "plant" fill(none) {TZ}'
)
RAISED_BY_KIND = (
    f'SELECT count("seq") FROM "alarm" WHERE {PLANT} AND "state" = \'raised\' '
    'AND $timeFilter GROUP BY "kind", "severity"'
)
HISTORY = (
    'SELECT "state", "name_zh", "seq", "by", "note", "detail" FROM "alarm" '
    f'WHERE {PLANT} AND $timeFilter {BY_ALARM} ORDER BY time DESC LIMIT 200'
)


def build() -> dash.Dashboard:
    return (dashboard(UID, "pvrelief: alarms", ["technicians", "alarms"], "now-30d")
            .with_row(dash.Row("On now")
                      .with_panel(grid("Active alarms", [Target(ACTIVE, table=True)], w=16,
                                       description="raised or acknowledged; seq is the id "
                                                   "`pvrelief alarms ack` takes"))
                      .with_panel(single("Active major alarms", [Target(ACTIVE_MAJOR)],
                                         "short", w=8, h=4))
                      .with_panel(grid("Active alarms per plant", [
                          Target(ACTIVE_BY_PLANT, table=True)], w=8, h=4)))
            .with_row(dash.Row("History")
                      .with_panel(series("Alarms raised per plant per day", [
                          Target(RAISED_PER_DAY, alias="$tag_plant")], "short", bars=True))
                      .with_panel(grid("Alarms raised by kind and severity", [
                          Target(RAISED_BY_KIND, table=True)]))
                      .with_panel(grid("Transitions, newest first", [
                          Target(HISTORY, table=True)], w=24, h=10,
                          description="raised, acknowledged (by whom, a note), cleared, "
                                      "closed"))))
