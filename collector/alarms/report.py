"""What a technician reads: alarm lists and one alarm's history with the readings around it.

Text only (the CLI prints it; the web page of a later issue can reuse the rows). Times are
local to each plant; names are Chinese by default.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from collector.alarms.builtin import KIND_ZH, SEVERITY_ZH, STATE_ZH
from collector.alarms.model import Alarm, Transition
from config.schema import Config
from influx.query import InfluxReader, quote

AROUND_S = 600  # readings shown before and after the raise (and the clear)
MAX_ROWS = 40
HEADERS = {
    "zh": ["编号", "状态", "级别", "电站", "设备", "告警", "开始", "持续", "确认"],
    "en": ["id", "state", "severity", "plant", "device", "alarm", "since", "for", "taken by"],
}
BASE_FIELDS = {"inverter": ["status", "faults", "p_ac_w", "e_total_kwh", "t_internal_c",
                            "r_insulation_mohm"],
               "meter": ["p_w", "e_export_kwh"]}


class Clocks:
    """Local time per plant, from the config (Asia/Shanghai for anything unknown)."""

    def __init__(self, config: Config | None) -> None:
        self.zones = {p.id: p.timezone for p in config.plants()} if config else {}

    def local(self, plant: str, ts_ns: int) -> str:
        tz = ZoneInfo(self.zones.get(plant, "Asia/Shanghai"))
        return datetime.fromtimestamp(ts_ns / 1e9, UTC).astimezone(tz).strftime(
            "%Y-%m-%d %H:%M:%S")


def _duration(seconds: float) -> str:
    s = int(seconds)
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    if s < 86_400:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 86_400}d{s % 86_400 // 3600:02d}h"


def words(value: str, table: dict[str, str], lang: str) -> str:
    return table.get(value, value) if lang == "zh" else value


def list_rows(alarms: Sequence[Alarm], lang: str, clocks: Clocks,
              now_ns: int) -> list[list[str]]:
    rows = []
    for a in alarms:
        d = a.definition
        end = a.ended_ns if a.ended_ns is not None else now_ns
        rows.append([str(a.id), words(a.state.value, STATE_ZH, lang),
                     words(d.severity, SEVERITY_ZH, lang), a.plant, a.device, d.title(lang),
                     clocks.local(a.plant, a.raised_ns), _duration((end - a.raised_ns) / 1e9),
                     a.acked_by or ""])
    return rows


@dataclass(frozen=True, slots=True)
class Readings:
    columns: list[str]
    rows: list[list[str]]


def alarm_fields(a: Alarm, config: Config | None) -> list[str]:
    """The fields that tell this alarm's story, beside the device's usual ones."""
    aid = a.definition.id
    if aid.startswith("string-"):
        n = aid.split("-")[1]
        return [f"pv{n}_i_a", "pv1_i_a", "pv2_i_a"]
    if aid.startswith(("stuck-", "counter-")):
        field = aid.split("-", 1)[1]
        return [field, f"q_{field}"]
    if config is not None:
        rule = next((r for r in config.alarms.thresholds if r.id == aid), None)
        if rule is not None:
            return list(rule.fields)
    return []


def readings_around(reader: InfluxReader, a: Alarm, kind: str, fields: list[str],
                    clocks: Clocks) -> Readings:
    """The device's readings around the raise (and the clear), from InfluxDB."""
    wanted = list(dict.fromkeys(BASE_FIELDS.get(kind, []) + fields))
    windows = [(a.raised_ns, a.raised_ns)]
    if a.ended_ns is not None:
        windows.append((a.ended_ns, a.ended_ns))
    series: dict[int, dict[str, object]] = {}
    for lo, hi in windows:
        q = (f'SELECT * FROM "{kind}" WHERE "device" = {quote(a.device)} '
             f"AND time >= {lo - AROUND_S * 10**9} AND time <= {hi + AROUND_S * 10**9} "
             f"LIMIT {MAX_ROWS}")
        for s in reader.query(q):
            cols = s["columns"]
            for row in s["values"]:
                series[int(row[0])] = dict(zip(cols, row, strict=True))
    present = [c for c in wanted if any(r.get(c) is not None for r in series.values())]
    times = sorted(series)
    marks: dict[int, str] = {}
    for event_ns, what in ((a.raised_ns, "raised"), (a.ended_ns, "cleared")):
        first = next((ts for ts in times if event_ns is not None and ts >= event_ns), None)
        if first is not None:
            marks[first] = what  # the first reading that shows the change
    rows = [[clocks.local(a.plant, ts), marks.get(ts, "")] +
            [_cell(series[ts].get(c)) for c in present] for ts in times]
    return Readings(["time", "", *present], rows)


def _cell(v: object) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.6g}"
    return str(v)


def history_lines(a: Alarm, history: Sequence[Transition], lang: str,
                  clocks: Clocks) -> list[str]:
    d = a.definition
    lines = [f"#{a.id} {d.title(lang)} ({d.id}) - {a.plant} / {a.device}",
             f"  {'级别' if lang == 'zh' else 'severity'}: "
             f"{words(d.severity, SEVERITY_ZH, lang)}, "
             f"{'类别' if lang == 'zh' else 'kind'}: {words(d.kind, KIND_ZH, lang)}, "
             f"{'状态' if lang == 'zh' else 'state'}: {words(a.state.value, STATE_ZH, lang)}"
             + (f", {'频繁' if lang == 'zh' else 'flapping'}" if a.flapping else "")]
    if d.advice(lang):
        lines.append(f"  {'处理建议' if lang == 'zh' else 'action'}: {d.advice(lang)}")
    if a.detail:
        lines.append(f"  {'详情' if lang == 'zh' else 'detail'}: {a.detail}")
    lines.append("")
    for t in history:
        who = f" {t.actor}" + (f": {t.note}" if t.note else "") if t.actor else ""
        lines.append(f"  {clocks.local(a.plant, t.ts_ns)}  "
                     f"{words(t.state.value, STATE_ZH, lang)}{who}")
    return lines


def table(headers: Sequence[str], rows: Sequence[Sequence[str]],
          width: Callable[[str], int] | None = None) -> list[str]:
    """A plain text table; CJK characters count two columns wide."""
    w = width or display_width
    cols = [max([w(h)] + [w(r[i]) for r in rows]) for i, h in enumerate(headers)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(c + " " * (cols[i] - w(c)) for i, c in enumerate(cells)).rstrip()

    return [line(headers), *(line(r) for r in rows)]


def display_width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)
