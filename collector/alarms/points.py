"""Alarm transitions as readings of kind ``alarm``, handed to the sinks like any reading.

The stage emits them into the pipeline's sinks (``Pipeline.deliver``), so they reach InfluxDB
through the same durable spool, and MQTT when that sink is on, with no second write path.

InfluxDB measurement ``alarm``, one point per transition:

- tags: ``plant``, ``device`` (the plant's id for plant-wide alarms, ``spool`` for the
  site's spool), ``village``, ``alarm`` (its id: ``code-2064``, ``comm-loss``, ...),
  ``kind``, ``severity``
- fields: ``state`` (raised | acknowledged | cleared | closed), ``active`` (1 while the
  condition is on: raised or acknowledged), ``seq`` (the alarm's id in the state database,
  what ``pvrelief alarms ack`` takes), ``raises``, ``flapping`` (0/1), ``severity_level``
  (1 major, 2 minor, 3 warning), ``code`` (device codes), ``value`` (what was measured),
  ``duration_s`` (cleared/closed: since raised), ``name``, ``name_zh``, ``detail``, and
  ``by``/``note`` on acknowledgements

Transitions of one alarm never share a timestamp (the lifecycle spaces them by the sink's
precision), so none overwrites another.
"""

from __future__ import annotations

from collector.alarms.model import SEVERITY_RANK, State, Transition
from collector.reading import Reading

MEASUREMENT = "alarm"


def _clean(text: str) -> str:
    return " ".join(text.split())  # line protocol has no room for a newline in a value


def to_reading(t: Transition) -> Reading:
    a, d = t.alarm, t.alarm.definition
    fields: dict[str, float | None] = {
        "active": 1.0 if t.state in (State.RAISED, State.ACKNOWLEDGED) else 0.0,
        "seq": float(a.id), "raises": float(a.raises), "flapping": float(a.flapping),
        "severity_level": float(SEVERITY_RANK.get(d.severity, 3)),
        "code": None if d.code is None else float(d.code), "value": a.value,
    }
    if t.state in (State.CLEARED, State.CLOSED):
        fields["duration_s"] = (t.ts_ns - a.raised_ns) / 1e9
    text = {"state": t.state.value, "name": _clean(d.name), "name_zh": _clean(d.name_zh)}
    if a.detail:
        text["detail"] = _clean(a.detail)
    if t.actor:
        text["by"] = _clean(t.actor)
    if t.note:
        text["note"] = _clean(t.note)
    return Reading(kind=MEASUREMENT, plant=a.plant, device=a.device, ts_ns=t.ts_ns,
                   fields=fields, village=a.village,
                   tags={"alarm": d.id, "kind": d.kind, "severity": d.severity}, text=text)
