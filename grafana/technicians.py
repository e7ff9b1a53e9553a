"""Field technicians: what needs a visit, device by device.

InfluxQL filters rows, not aggregates, so "devices whose last value is X" is a subquery that
takes the last value per device and an outer WHERE on that value.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as dash

from grafana.influxql import PLANT, Target, custom_variable, dashboard
from grafana.operators import silence_variable
from grafana.panels import grid, series

UID = "pvrelief-technicians"
BY_DEVICE = 'GROUP BY "plant", "device"'

ACTIVE_FAULTS = (
    'SELECT "faults", "status" FROM (SELECT last("faults") AS "faults", last("status") AS '
    f'"status" FROM "inverter" WHERE {PLANT} AND $timeFilter {BY_DEVICE}) '
    f"WHERE \"faults\" != '' AND $timeFilter {BY_DEVICE}"
)
FAULT_HISTORY = (
    'SELECT count("faults") FROM "inverter" '
    f"WHERE {PLANT} AND \"faults\" != '' AND $timeFilter "
    'GROUP BY time($__interval), "device" fill(none)'
)
# Union of two subqueries (see operators.AVAILABILITY): per device, how many readings in the
# last $silence ("n", null when none) beside its last status in the range. On InfluxDB 1.6
# fill(-1) makes the row exist for a device with no recent reading, and n < 1 selects it.
SILENT = (
    'SELECT "last_status" FROM (SELECT count("recent") AS "n", last("seen") AS "last_status" '
    f'FROM (SELECT last("status") AS "seen" FROM "inverter" WHERE {PLANT} AND $timeFilter '
    f'{BY_DEVICE}), (SELECT last("status") AS "recent" FROM "inverter" WHERE {PLANT} '
    f'AND time > ${{__to}}ms - $silence AND time <= ${{__to}}ms {BY_DEVICE}) '
    f'{BY_DEVICE} fill(-1)) WHERE "n" < 1 {BY_DEVICE}'
)
LAST_SEEN = (  # a single selector keeps its point's time: the time column is the last reading
    f'SELECT last("status") AS "status" FROM "inverter" WHERE {PLANT} AND $timeFilter '
    f'{BY_DEVICE}'
)
LOW_INSULATION = (
    'SELECT "r_insulation_mohm" FROM (SELECT last("r_insulation_mohm") AS "r_insulation_mohm" '
    f'FROM "inverter" WHERE {PLANT} AND $timeFilter {BY_DEVICE}) '
    f'WHERE "r_insulation_mohm" < $insulation_min AND $timeFilter {BY_DEVICE}'
)
INSULATION = (
    'SELECT min("r_insulation_mohm") FROM "inverter" '
    f'WHERE {PLANT} AND $timeFilter GROUP BY time($__interval), "device" fill(null)'
)
OVER_TEMPERATURE = (
    'SELECT "t_internal_c" FROM (SELECT max("t_internal_c") AS "t_internal_c" '
    f'FROM "inverter" WHERE {PLANT} AND $timeFilter {BY_DEVICE}) '
    f'WHERE "t_internal_c" > $temp_max AND $timeFilter {BY_DEVICE}'
)
TEMPERATURE = (
    'SELECT max("t_internal_c") FROM "inverter" '
    f'WHERE {PLANT} AND $timeFilter GROUP BY time($__interval), "device" fill(null)'
)
# InfluxQL cannot divide a device's series by its plant's, so the plant mean is drawn beside
# each inverter (B) and the table ranks inverters by their mean, lowest first
DEVICE_POWER = (
    'SELECT mean("p_ac_w") / 1000 FROM "inverter" '
    f'WHERE {PLANT} AND $timeFilter GROUP BY time($__interval), "device" fill(null)'
)
PLANT_MEAN_POWER = (
    'SELECT mean("p_ac_w") / 1000 FROM "inverter" '
    f'WHERE {PLANT} AND $timeFilter GROUP BY time($__interval), "plant" fill(null)'
)
MEAN_BY_DEVICE = (
    'SELECT mean("p_ac_w") / 1000 AS "mean AC kW" FROM "inverter" '
    f'WHERE {PLANT} AND $timeFilter {BY_DEVICE}'
)


def build() -> dash.Dashboard:
    return (dashboard(UID, "pvrelief: alarms (field technicians)", ["technicians"], "now-24h")
            .with_variable(silence_variable())
            .with_variable(custom_variable(
                "insulation_min", "Insulation below (MΩ)", ["0.1", "0.5", "1", "2"], "0.5",
                "inverters whose last insulation resistance is below this are listed"))
            .with_variable(custom_variable(
                "temp_max", "Temperature above (°C)", ["50", "60", "70", "80"], "70",
                "inverters whose internal temperature rose above this in the range"))
            .with_row(dash.Row("Faults and communication")
                      .with_panel(grid("Active faults", [Target(ACTIVE_FAULTS, table=True)],
                                       description="inverters whose last reading carries "
                                                   "fault codes"))
                      .with_panel(series("Readings in fault", [
                          Target(FAULT_HISTORY, alias="$tag_device")], "short",
                          description="readings per interval with a fault code", bars=True))
                      .with_panel(grid("Communication lost", [Target(SILENT, table=True)],
                                       description="read in the range but not in the last "
                                                   "$silence; last status shown"))
                      .with_panel(grid("Last reading per inverter", [
                          Target(LAST_SEEN, table=True)], description="time = last reading")))
            .with_row(dash.Row("Insulation and temperature")
                      .with_panel(grid("Low insulation", [Target(LOW_INSULATION, table=True)],
                                       unit="mohm"))
                      .with_panel(series("Insulation resistance", [
                          Target(INSULATION, alias="$tag_device")], "mohm"))
                      .with_panel(grid("Over temperature", [
                          Target(OVER_TEMPERATURE, table=True)], unit="celsius"))
                      .with_panel(series("Internal temperature", [
                          Target(TEMPERATURE, alias="$tag_device")], "celsius")))
            .with_row(dash.Row("Inverters below their peers")
                      .with_panel(series("Inverter power against the plant mean", [
                          Target(DEVICE_POWER, "A", alias="$tag_device"),
                          Target(PLANT_MEAN_POWER, "B", alias="$tag_plant mean")], "kwatt",
                          w=16, h=10))
                      .with_panel(grid("Mean power per inverter", [
                          Target(MEAN_BY_DEVICE, table=True)], w=8, h=10, unit="kwatt"))))
