"""Operators: the fleet at a glance, then every inverter of the selected plants."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as dash

from grafana.influxql import PLANT, Target, custom_variable, dashboard
from grafana.panels import grid, series, single

UID = "pvrelief-operators"

# A device counts as available when it was read at least once in the last $silence before
# the range's end (${__to}, epoch ms), among the devices read at all in the range. InfluxQL
# cannot join, but two subqueries in one FROM are a union: count() over each field of the union
# gives both numbers in one row. The outer query has no time condition on purpose: InfluxDB
# pushes an outer time range into its subqueries, which would cut the "seen" one short.
AVAILABILITY = (
    'SELECT count("recent") / count("seen") * 100 AS "available" FROM '
    f'(SELECT last("status") AS "seen" FROM "inverter" WHERE {PLANT} AND $timeFilter '
    'GROUP BY "device"), '
    f'(SELECT last("status") AS "recent" FROM "inverter" WHERE {PLANT} '
    'AND time > ${__to}ms - $silence AND time <= ${__to}ms GROUP BY "device")'
)

# the plant's power is the sum of its inverters; each inverter is averaged per interval first,
# so a device polled twice in one interval is not counted twice
PLANT_POWER = (
    'SELECT sum("p_ac_w") / 1000 FROM (SELECT mean("p_ac_w") AS "p_ac_w" FROM "inverter" '
    f'WHERE {PLANT} AND $timeFilter GROUP BY time($__interval), "plant", "device") '
    'WHERE $timeFilter GROUP BY time($__interval), "plant" fill(null)'
)

# on-grid energy comes from the settlement meter (the revenue formula's source), not the
# inverters; the counter only rises (the collector's counter guard), so spread = energy
ENERGY_TODAY = (
    f'SELECT spread("e_export_kwh") FROM "meter" WHERE {PLANT} AND $timeFilter GROUP BY "plant"'
)

INVERTER_POWER = (
    'SELECT mean("p_ac_w") / 1000 FROM "inverter" '
    f'WHERE {PLANT} AND $timeFilter GROUP BY time($__interval), "device" fill(null)'
)

INVERTERS_NOW = (
    'SELECT last("p_ac_w") / 1000 AS "AC kW", last("e_day_kwh") AS "today kWh", '
    'last("status") AS "status", last("faults") AS "faults" FROM "inverter" '
    f'WHERE {PLANT} AND $timeFilter GROUP BY "plant", "device"'
)


def silence_variable() -> dash.CustomVariable:
    return custom_variable("silence", "Silent after", ["5m", "15m", "30m", "1h", "3h"], "15m",
                           "a device without a reading for this long counts as not available")


def build() -> dash.Dashboard:
    return (dashboard(UID, "pvrelief: fleet (operators)", ["operators"], "now-24h")
            .with_variable(silence_variable())
            .with_row(dash.Row("Fleet")
                      .with_panel(series("AC power per plant", [
                          Target(PLANT_POWER, alias="$tag_plant")], "kwatt", w=12,
                          description="sum of the inverters' mean AC power"))
                      .with_panel(single("On-grid energy today per plant", [
                          Target(ENERGY_TODAY, alias="$tag_plant")], "kwatth", w=6,
                          description="settlement meters: the rise of e_export_kwh since "
                                      "local midnight")
                                  .time_from("now/d"))
                      .with_panel(single("Availability", [Target(AVAILABILITY)], "percent",
                                         w=6, description="share of the inverters read in "
                                         "the range that were also read in the last $silence")
                                  .min(0).max(100)))
            .with_row(dash.Row("Inverters")
                      .with_panel(series("Inverter AC power", [
                          Target(INVERTER_POWER, alias="$tag_device")], "kwatt", w=14, h=10))
                      .with_panel(grid("Inverters: last reading", [
                          Target(INVERTERS_NOW, table=True)], w=10, h=10))))
