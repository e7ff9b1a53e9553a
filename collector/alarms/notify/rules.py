"""Routing: which channels a transition goes to, by plant, severity, kind and event."""

from __future__ import annotations

from collections.abc import Sequence

from collector.alarms.model import Transition
from config.alarm_settings import Rule


def route(t: Transition, rules: Sequence[Rule]) -> list[str]:
    """The channels ``t`` goes to, each once, in the order the rules name them."""
    if not t.notify:
        return []  # a flapping alarm's repeated raise
    a, d = t.alarm, t.alarm.definition
    out: list[str] = []
    for r in rules:
        if t.state.value not in r.events:
            continue
        if (r.plants and a.plant not in r.plants) or \
                (r.severities and d.severity not in r.severities) or \
                (r.kinds and d.kind not in r.kinds):
            continue
        out += [c for c in r.channels if c not in out]
    return out
