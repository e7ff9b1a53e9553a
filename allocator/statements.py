"""Per-village statements (XLSX): Chinese headers with English below, amounts in yuan.

openpyxl stamps "modified" with the clock and the zip entries with the time of saving; both
are replaced by the period's start, so a rerun gives the same bytes.
"""

from __future__ import annotations

import io
import re
import zipfile
from datetime import datetime
from decimal import Decimal
from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Font

from allocator.errors import OutputError
from allocator.model import Inputs
from allocator.outputs import escape_cell
from allocator.result import Allocation

HEADERS = (
    ("期间", "Period"), ("电站", "Plant"), ("上网电量（千瓦时）", "On-grid energy (kWh)"),
    ("收益合计（元）", "Gross (yuan)"), ("电网支付部分（元）", "Grid-paid part (yuan)"),
    ("补贴部分（元）", "Subsidy part (yuan)"), ("扣除（元）", "Deductions (yuan)"),
    ("净收益（元）", "Net (yuan)"),
)
USAGE_ZH = {"collective": "村集体", "jobs_and_rewards": "公益岗位及奖补"}
_MODIFIED = re.compile(rb"(<dcterms:modified[^>]*>)[^<]*(</dcterms:modified>)")


def _yuan(fen: int) -> float:
    # openpyxl stores numbers as floats; from fen with two decimals that is exact to display
    return float(Decimal(int(fen)).scaleb(-2))


def _reproducible(data: bytes, stamp: datetime) -> bytes:
    iso = stamp.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
    src = zipfile.ZipFile(io.BytesIO(data))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in sorted(src.infolist(), key=lambda i: i.filename):
            body = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                body = _MODIFIED.sub(rb"\g<1>" + iso + rb"\g<2>", body)
            entry = zipfile.ZipInfo(info.filename, date_time=stamp.timetuple()[:6])
            entry.compress_type = zipfile.ZIP_DEFLATED
            dst.writestr(entry, body)
    return buf.getvalue()


def statement_bytes(a: Allocation, inputs: Inputs, village_rank: int) -> bytes:
    vid = a.village_ids[village_rank]
    village = inputs.villages[vid]
    wb = Workbook()
    ws = wb.active
    ws.title = "对账单 Statement"
    stamp = datetime(a.period.start.year, a.period.start.month, a.period.start.day)
    wb.properties.creator = "pvrelief"
    wb.properties.created = stamp
    wb.properties.title = escape_cell(f"{village.name} {a.period.label}")
    ws.append([escape_cell(f"{village.name}（{vid}）收益分配对账单"), "", a.period.label])
    ws.append([escape_cell(f"Revenue statement for {vid}"), "",
               f"{a.period.start} – {a.period.dates()[-1]}"])
    usage = [(c, n) for c, n in enumerate(a.usage_names)]
    ws.append([zh for zh, _ in HEADERS] + [f"{USAGE_ZH.get(n, n)}（元）" for _, n in usage])
    ws.append([en for _, en in HEADERS] + [f"{n} (yuan)" for _, n in usage])
    for cell in (*ws[3], *ws[4]):
        cell.font = Font(bold=True)
    usage_by_pair: dict[tuple[int, int], int] = {}
    for i in range(a.usage_pair.size):
        usage_by_pair[(int(a.usage_pair[i]), int(a.usage_cat[i]))] = int(a.usage_fen[i])
    gross, net = a.gross_fen, a.net_fen
    totals = [0] * (5 + len(usage))
    for i in [int(i) for i in (a.pair_village == village_rank).nonzero()[0]]:
        amounts = [int(gross[i]), int(a.grid_part_fen[i]), int(a.subsidy_part_fen[i]),
                   int(a.deductions_fen[i]), int(net[i]),
                   *(usage_by_pair.get((i, c), 0) for c, _ in usage)]
        totals = [t + x for t, x in zip(totals, amounts, strict=True)]
        ws.append([a.period.label, escape_cell(a.plant_ids[a.pair_plant[i]]),
                   float(Decimal(int(a.energy_wh[i])).scaleb(-3)), *map(_yuan, amounts)])
    ws.append(["合计 Total", "", None, *map(_yuan, totals)])
    for row in ws.iter_rows(min_row=5):
        for cell in row[3:]:
            cell.number_format = "#,##0.00"
        row[2].number_format = "#,##0.000"
    for col, width in zip("ABCDEFGHIJ", (12, 22, 20, 16, 18, 18, 16, 16, 16, 18), strict=False):
        ws.column_dimensions[col].width = width
    buf = io.BytesIO()
    wb.save(buf)
    return _reproducible(buf.getvalue(), stamp)


def statement_files(a: Allocation, inputs: Inputs) -> dict[str, bytes]:
    """One XLSX per village that has a row in this allocation, by path under ``--out``."""
    return {f"statements/{a.village_ids[rank]}.xlsx": statement_bytes(a, inputs, rank)
            for rank in sorted(set(int(v) for v in a.pair_village))}


def write_statements(folder: Path, a: Allocation, inputs: Inputs) -> list[Path]:
    """Write the statements into ``folder`` (not atomically: ``pvrelief allocate`` publishes
    them with the other outputs, see ``allocator/publish.py``)."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        written = []
        for rel, data in statement_files(a, inputs).items():
            path = folder / Path(rel).name
            path.write_bytes(data)
            written.append(path)
        return written
    except OSError as e:
        raise OutputError(f"cannot write statements to {folder}: {e.strerror}") from e
