"""The national monitoring KPIs per plant, day by day and month by month (``kpi`` points).

``pvrelief kpi`` writes one point per plant and period, stamped at the period's opening local
midnight, tagged ``span`` day or month; grouping by local day with fill(none) gives one bar per
period (the same trick as the finance dashboard's months).
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as dash

from grafana.influxql import PLANT, TIMEZONE, Target, dashboard
from grafana.panels import grid, series

UID = "pvrelief-kpi"
TZ = f"tz('{TIMEZONE}')"


def _daily(field: str, scale: str = " * 100") -> str:
    return (f'SELECT last("{field}"){scale} FROM "kpi" WHERE {PLANT} AND "span" = \'day\' '
            f'AND $timeFilter GROUP BY time(1d), "plant" fill(none) {TZ}')


ONLINE = _daily("online_rate")
FAULT = _daily("fault_rate")
CAPABILITY = _daily("generation_capability")
COVERAGE = _daily("coverage")
ACK_TIME = _daily("mean_ack_s", " / 60")
CLEAR_TIME = _daily("mean_clear_s", " / 60")
MONTHS = (
    'SELECT last("online_rate") * 100 AS "online %", last("fault_rate") * 100 AS "fault %", '
    'last("generation_capability") * 100 AS "capability %", last("coverage") * 100 AS '
    '"coverage %", last("mean_ack_s") / 60 AS "to ack (min)", last("mean_clear_s") / 60 AS '
    '"to clear (min)", last("alarms") AS "alarms" FROM "kpi" '
    f'WHERE {PLANT} AND "span" = \'month\' AND $timeFilter GROUP BY "plant", "period"'
)


def build() -> dash.Dashboard:
    return (dashboard(UID, "pvrelief: KPIs (national monitoring)", ["operators", "kpi"],
                      "now-90d")
            .with_row(dash.Row("Per day")
                      .with_panel(series("Online rate", [Target(ONLINE, alias="$tag_plant")],
                                         "percent", bars=True,
                                         description="readings received / expected"))
                      .with_panel(series("Fault rate", [Target(FAULT, alias="$tag_plant")],
                                         "percent", bars=True,
                                         description="device time with a major alarm on"))
                      .with_panel(series("Generation capability", [
                          Target(CAPABILITY, alias="$tag_plant")], "percent", bars=True,
                          description="on-grid energy / clear-sky expectation"))
                      .with_panel(series("O&M coverage", [
                          Target(COVERAGE, alias="$tag_plant")], "percent", bars=True,
                          description="alarms acknowledged within the target time"))
                      .with_panel(series("Mean time to acknowledge", [
                          Target(ACK_TIME, alias="$tag_plant")], "m", bars=True))
                      .with_panel(series("Mean time to clear", [
                          Target(CLEAR_TIME, alias="$tag_plant")], "m", bars=True)))
            .with_row(dash.Row("Per month")
                      .with_panel(grid("KPIs per plant and month", [
                          Target(MONTHS, table=True)], w=24, h=8))))
