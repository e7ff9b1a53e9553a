"""Message text, Chinese by default: one alarm, or a digest of many grouped by plant.

Robots show markdown (DingTalk's subset, WeCom's subset: headings, lists, bold); the webhook
also gets the events as data. A digest lists at most ``MAX_LINES`` alarms and says how many
more there are, so a whole plant going offline is one short message, not forty.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from collector.alarms.builtin import KIND_ZH, SEVERITY_ZH, STATE_ZH
from collector.alarms.model import Transition

MAX_LINES = 30

WORDS = {
    "zh": {"plant": "电站", "device": "设备", "state": "状态", "time": "时间", "detail": "详情",
           "action": "处理建议", "id": "告警编号", "ack": "确认", "by": "确认人",
           "note": "说明", "digest": "告警汇总", "items": "条", "more": "另有 {n} 条",
           "flapping": "（频繁告警，后续重复将不再通知）",
           "ack_hint": "确认：pvrelief alarms ack {id} --by 姓名 --note 说明"},
    "en": {"plant": "Plant", "device": "Device", "state": "State", "time": "Time",
           "detail": "Detail", "action": "Action", "id": "Alarm id", "ack": "Acknowledge",
           "by": "By", "note": "Note", "digest": "Alarm digest", "items": "alarms",
           "more": "{n} more", "flapping": " (flapping: repeats are not notified)",
           "ack_hint": "acknowledge: pvrelief alarms ack {id} --by NAME --note TEXT"},
}


@dataclass(frozen=True, slots=True)
class Message:
    title: str
    markdown: str
    events: list[dict[str, Any]]


def _severity(sev: str, lang: str) -> str:
    return SEVERITY_ZH.get(sev, sev) if lang == "zh" else sev


def _state(state: str, lang: str) -> str:
    return STATE_ZH.get(state, state) if lang == "zh" else state


def event_data(t: Transition) -> dict[str, Any]:
    a, d = t.alarm, t.alarm.definition
    return {"id": a.id, "plant": a.plant, "device": a.device, "village": a.village,
            "alarm": d.id, "kind": d.kind, "severity": d.severity, "code": d.code,
            "state": t.state.value, "time": datetime.fromtimestamp(t.ts_ns / 1e9, UTC)
            .isoformat(timespec="seconds"), "name": d.name, "name_zh": d.name_zh,
            "action": d.action, "action_zh": d.action_zh, "detail": a.detail,
            "value": a.value, "flapping": a.flapping, "by": t.actor, "note": t.note}


class Renderer:
    """Renders in one language; plant names and time zones come from the config."""

    def __init__(self, lang: str, plant_names: dict[str, str],
                 timezone_of: Callable[[str], str]) -> None:
        self.lang = lang
        self.w = WORDS[lang]
        self.plant_names = plant_names
        self.timezone_of = timezone_of

    def _plant(self, pid: str) -> str:
        name = self.plant_names.get(pid)
        return f"{name} ({pid})" if name else pid

    def _time(self, t: Transition) -> str:
        tz = ZoneInfo(self.timezone_of(t.alarm.plant))
        return datetime.fromtimestamp(t.ts_ns / 1e9, UTC).astimezone(tz).strftime(
            "%Y-%m-%d %H:%M:%S")

    def render(self, items: Sequence[Transition]) -> Message:
        events = [event_data(t) for t in items]
        if len(items) == 1:
            return self._one(items[0], events)
        return self._digest(items, events)

    def _one(self, t: Transition, events: list[dict[str, Any]]) -> Message:
        a, d, w, lang = t.alarm, t.alarm.definition, self.w, self.lang
        sev, state = _severity(d.severity, lang), _state(t.state.value, lang)
        title = f"[{sev}] {d.title(lang)} {state}: {a.device}"
        lines = [f"### [{sev}] {d.title(lang)}{w['flapping'] if a.flapping else ''}", "",
                 f"- **{w['state']}**: {state}", f"- **{w['plant']}**: {self._plant(a.plant)}",
                 f"- **{w['device']}**: {a.device}", f"- **{w['time']}**: {self._time(t)}"]
        if a.detail:
            lines.append(f"- **{w['detail']}**: {a.detail}")
        if t.actor:
            lines.append(f"- **{w['by']}**: {t.actor}" + (f" ({t.note})" if t.note else ""))
        if d.advice(lang):
            lines.append(f"- **{w['action']}**: {d.advice(lang)}")
        lines.append(f"- **{w['id']}**: {a.id} ({w['ack_hint'].format(id=a.id)})")
        return Message(title, "\n".join(lines), events)

    def _digest(self, items: Sequence[Transition], events: list[dict[str, Any]]) -> Message:
        w, lang = self.w, self.lang
        by_plant: dict[str, list[Transition]] = defaultdict(list)
        for t in items:
            by_plant[t.alarm.plant].append(t)
        counts = ", ".join(f"{self.plant_names.get(p) or p} {len(ts)}"
                           for p, ts in by_plant.items())
        title = f"{w['digest']}: {len(items)} {w['items']} ({counts})"
        lines = [f"### {title}"]
        shown = 0
        for pid, ts in by_plant.items():
            lines += ["", f"**{w['plant']}: {self._plant(pid)}** ({len(ts)} {w['items']})"]
            for t in ts:
                if shown == MAX_LINES:
                    break
                d = t.alarm.definition
                lines.append(f"- [{_severity(d.severity, lang)}] {t.alarm.device} "
                             f"{d.title(lang)} {_state(t.state.value, lang)} "
                             f"{self._time(t)[11:]} (#{t.alarm.id})")
                shown += 1
        if shown < len(items):
            lines += ["", w["more"].format(n=len(items) - shown)]
        return Message(title, "\n".join(lines), events)


def kind_word(kind: str, lang: str) -> str:
    return KIND_ZH.get(kind, kind) if lang == "zh" else kind
