"""Finance: revenue per village and energy per plant, month by month.

InfluxQL has no calendar months. Revenue points are stamped at their period's opening local
midnight (allocator/revenue_points.py), so grouping by local day with fill(none) gives one bar
per period; tz() makes the days Beijing days, as the meters' daily energy needs too.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as dash

from grafana.influxql import PLANT, TIMEZONE, Target, dashboard
from grafana.panels import grid, series

UID = "pvrelief-finance"
TZ = f"tz('{TIMEZONE}')"

NET_BY_VILLAGE = (
    f'SELECT sum("net_yuan") FROM "revenue" WHERE {PLANT} AND $timeFilter '
    f'GROUP BY time(1d), "village" fill(none) {TZ}'
)
REVENUE_TABLE = (
    'SELECT "gross_yuan", "grid_part_yuan", "subsidy_part_yuan", "deductions_yuan", '
    f'"net_yuan", "energy_kwh" FROM "revenue" WHERE {PLANT} AND $timeFilter '
    'GROUP BY "period", "plant", "village"'
)
# the allocator's energy is the settlement meter's, split per village: the plant's is the sum
SETTLED_ENERGY = (
    f'SELECT sum("energy_kwh") FROM "revenue" WHERE {PLANT} AND $timeFilter '
    f'GROUP BY time(1d), "plant" fill(none) {TZ}'
)
DAILY_METER_ENERGY = (
    f'SELECT spread("e_export_kwh") FROM "meter" WHERE {PLANT} AND $timeFilter '
    f'GROUP BY time(1d), "plant" fill(none) {TZ}'
)


def build() -> dash.Dashboard:
    return (dashboard(UID, "pvrelief: revenue (finance)", ["finance"], "now-1y")
            .with_row(dash.Row("Revenue")
                      .with_panel(series("Net revenue per village per period", [
                          Target(NET_BY_VILLAGE, alias="$tag_village")], "currencyCNY",
                          bars=True, description="after deductions, from the allocator"))
                      .with_panel(grid("Revenue per village and period", [
                          Target(REVENUE_TABLE, table=True)], unit="currencyCNY")))
            .with_row(dash.Row("Energy")
                      .with_panel(series("Settled energy per plant per period", [
                          Target(SETTLED_ENERGY, alias="$tag_plant")], "kwatth", bars=True,
                          description="on-grid energy the allocation used"))
                      .with_panel(series("On-grid energy per plant per day (meters)", [
                          Target(DAILY_METER_ENERGY, alias="$tag_plant")], "kwatth",
                          bars=True))))
