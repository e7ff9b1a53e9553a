"""Revenue points for the Grafana finance dashboard: measurement ``revenue`` in InfluxDB.

One point per plant x village x period, stamped at the period's opening local midnight, so a
rerun overwrites instead of duplicating. Fen fields are integers; yuan fields are for display.
Lines are built and escaped by influx/lineprotocol.py and written by influx/client.py.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from allocator.errors import OutputError
from allocator.model import Inputs
from allocator.result import Allocation
from influx import names
from influx.client import InfluxClient
from influx.errors import InfluxError
from influx.lineprotocol import line


def revenue_lines(a: Allocation, inputs: Inputs) -> list[str]:
    start = datetime.combine(a.period.start, datetime.min.time(), ZoneInfo(inputs.timezone))
    ts = int(start.timestamp()) * 10**9
    columns = {names.GROSS_FEN: a.gross_fen, names.GRID_PART_FEN: a.grid_part_fen,
               names.SUBSIDY_PART_FEN: a.subsidy_part_fen,
               names.DEDUCTIONS_FEN: a.deductions_fen, names.NET_FEN: a.net_fen}
    lines = []
    for i in range(a.pair_plant.size):
        fen = {k: int(v[i]) for k, v in columns.items()}
        fields: dict[str, int | float] = dict(fen)
        fields.update({names.yuan(k): v / 100 for k, v in fen.items()})
        fields[names.ENERGY_KWH] = int(a.energy_wh[i]) / 1000
        tags = {names.PLANT: a.plant_ids[a.pair_plant[i]],
                names.VILLAGE: a.village_ids[a.pair_village[i]], names.PERIOD: a.period.label}
        lines.append(line(names.REVENUE, tags, fields, ts))
    return lines


def write_revenue_points(client: InfluxClient, a: Allocation, inputs: Inputs) -> int:
    try:  # every line is built (LineProtocolError: an id it cannot carry) before any is sent
        return client.write_lines(revenue_lines(a, inputs), precision="ns")
    except InfluxError as e:
        raise OutputError(f"cannot write revenue points: {e}") from e
