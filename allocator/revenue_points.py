"""Revenue points for the Grafana finance dashboard: measurement ``revenue`` in InfluxDB 1.x.

One point per plant x village x period, stamped at the period's opening local midnight, so a
rerun overwrites instead of duplicating. Fen fields are integers; yuan fields are for display.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import httpx

from allocator.errors import OutputError
from allocator.model import Inputs
from allocator.result import Allocation

BATCH = 5_000


def _tag(value: str) -> str:
    return value.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=").replace(" ", "\\ ")


def revenue_lines(a: Allocation, inputs: Inputs) -> list[str]:
    start = datetime.combine(a.period.start, datetime.min.time(), ZoneInfo(inputs.timezone))
    ts = int(start.timestamp()) * 10**9
    gross, net = a.gross_fen, a.net_fen
    lines = []
    for i in range(a.pair_plant.size):
        fen = {"gross_fen": gross[i], "grid_part_fen": a.grid_part_fen[i],
               "subsidy_part_fen": a.subsidy_part_fen[i], "deductions_fen": a.deductions_fen[i],
               "net_fen": net[i]}
        fields = [f"{k}={int(v)}i" for k, v in fen.items()]
        fields += [f"{k[:-4]}_yuan={int(v) / 100:.2f}" for k, v in fen.items()]
        fields.append(f"energy_kwh={int(a.energy_wh[i]) / 1000:.3f}")
        tags = (f"plant={_tag(a.plant_ids[a.pair_plant[i]])},"
                f"village={_tag(a.village_ids[a.pair_village[i]])},period={_tag(a.period.label)}")
        lines.append(f"revenue,{tags} {','.join(fields)} {ts}")
    return lines


def write_revenue_points(url: str, db: str, a: Allocation, inputs: Inputs,
                         timeout: float = 30.0) -> int:
    lines = revenue_lines(a, inputs)
    try:
        with httpx.Client(timeout=timeout) as client:
            for i in range(0, len(lines), BATCH):
                body = "\n".join(lines[i: i + BATCH]).encode()
                r = client.post(f"{url}/write", params={"db": db, "precision": "ns"}, content=body)
                if r.status_code != 204:
                    raise OutputError(f"InfluxDB write to {db} failed: {r.status_code} {r.text}")
    except httpx.HTTPError as e:
        raise OutputError(f"cannot write revenue points to {url}: {e}") from e
    return len(lines)
