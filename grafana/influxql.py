"""Building blocks shared by the dashboards: the datasource, variables and raw InfluxQL targets.

The SDK has no InfluxDB query builder, so every target is a raw InfluxQL query wrapped in the
SDK's ``UnknownDataquery`` bag. Queries use Grafana's InfluxQL macros (``$timeFilter``,
``$__interval``, ``${__to}``) and ``/^$plant$/``, the regex form Grafana expands a multi-value
variable into; tests/grafana substitutes them the same way and runs every query on InfluxDB.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog import variants as cogvariants
from grafana_foundation_sdk.cog.runtime import UnknownDataquery
from grafana_foundation_sdk.models import dashboard as model

DATASOURCE_UID = "pvrelief-influxdb"  # grafana/provisioning/datasources/influxdb.yaml
DATASOURCE_NAME = "pvrelief InfluxDB"
# every panel follows the datasource variable, so one dashboard serves several sites
DATASOURCE = model.DataSourceRef(type_val="influxdb", uid="${datasource}")
PLANT = '"plant" =~ /^$plant$/'
TIMEZONE = "Asia/Shanghai"  # all of China keeps Beijing time: "today" and months are local


class Target(cogbuilder.Builder[cogvariants.Dataquery]):
    """A raw InfluxQL target; ``alias`` uses Grafana's ``$tag_<key>`` patterns."""

    def __init__(self, query: str, ref_id: str = "A", *, table: bool = False,
                 alias: str | None = None) -> None:
        self.data: dict[str, object] = {
            "refId": ref_id, "datasource": DATASOURCE, "query": query, "rawQuery": True,
            "resultFormat": "table" if table else "time_series",
        }
        if alias:
            self.data["alias"] = alias

    def build(self) -> cogvariants.Dataquery:
        return UnknownDataquery(self.data)


def datasource_variable() -> dash.DatasourceVariable:
    return (dash.DatasourceVariable("datasource").label("Data source").type("influxdb")
            .current(model.VariableOption(selected=True, text=DATASOURCE_NAME,
                                          value=DATASOURCE_UID)))


def plant_variable() -> dash.QueryVariable:
    # plants that have inverters or meters; all selected by default
    return (dash.QueryVariable("plant").label("Plant").datasource(DATASOURCE)
            .query('SHOW TAG VALUES WITH KEY = "plant"')
            .refresh(model.VariableRefresh.ON_DASHBOARD_LOAD).sort(model.VariableSort.ALPHABETICAL_ASC)
            .multi(True).include_all(True)
            .current(model.VariableOption(selected=True, text=["All"], value=["$__all"])))


def custom_variable(name: str, label: str, values: list[str], default: str,
                    description: str) -> dash.CustomVariable:
    return (dash.CustomVariable(name).label(label).description(description)
            .values(",".join(values))
            .current(model.VariableOption(selected=True, text=default, value=default)))


def dashboard(uid: str, title: str, tags: list[str], time_from: str) -> dash.Dashboard:
    return (dash.Dashboard(title).uid(uid).tags(["pvrelief", *tags]).timezone(TIMEZONE)
            .time(time_from, "now").refresh("1m").editable()
            .tooltip(model.DashboardCursorSync.CROSSHAIR)
            .with_variable(datasource_variable()).with_variable(plant_variable()))
