"""Panel shorthands: every panel gets the datasource variable, a size and its targets."""

from __future__ import annotations

from grafana_foundation_sdk.builders import common as cb
from grafana_foundation_sdk.builders import stat, table, timeseries
from grafana_foundation_sdk.models import common

from grafana.influxql import DATASOURCE, Target


def series(title: str, targets: list[Target], unit: str, *, w: int = 12, h: int = 8,
           description: str = "", bars: bool = False) -> timeseries.Panel:
    p = (timeseries.Panel().title(title).description(description).datasource(DATASOURCE)
         .targets(list(targets)).unit(unit).span(w).height(h)
         .legend(cb.VizLegendOptions().show_legend(True)
                 .display_mode(common.LegendDisplayMode.TABLE)
                 .placement(common.LegendPlacement.RIGHT).calcs(["lastNotNull", "max"])))
    if bars:  # one bar per period (a month, a day) reads better than a line between them
        p = p.draw_style(common.GraphDrawStyle.BARS).fill_opacity(80)
    return p


def single(title: str, targets: list[Target], unit: str, *, w: int = 6, h: int = 6,
           description: str = "", calc: str = "lastNotNull") -> stat.Panel:
    return (stat.Panel().title(title).description(description).datasource(DATASOURCE)
            .targets(list(targets)).unit(unit).span(w).height(h)
            .reduce_options(cb.ReduceDataOptions().calcs([calc]).values(False)))


def grid(title: str, targets: list[Target], *, w: int = 12, h: int = 8,
         description: str = "", unit: str = "none") -> table.Panel:
    return (table.Panel().title(title).description(description).datasource(DATASOURCE)
            .targets(list(targets)).unit(unit).span(w).height(h))

