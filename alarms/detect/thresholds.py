"""Thresholds from the config: a limit on canonical fields, with a duration and hysteresis.

A rule is beyond its limit when any of its fields is (the highest for ``above``, the lowest for
``below``); it raises once it has stayed beyond for ``for_s``, and is off only when every field
is back past ``clear``. Between the limit and ``clear`` nothing changes, so a value hovering at
the limit does not raise and clear on every poll. A field missing from a reading, or not good,
says nothing.
"""

from __future__ import annotations

from alarms.builtin import Builtins
from alarms.lifecycle import Lifecycle
from alarms.model import AlarmDef, Signal
from collector.reading import Reading
from config.alarm_settings import ThresholdRule

S = 1_000_000_000


class _Rule:
    __slots__ = ("above", "clear", "defn", "fields", "for_ns", "limit", "rule")

    def __init__(self, rule: ThresholdRule) -> None:
        self.rule = rule
        self.fields = tuple(rule.fields)
        self.above = rule.above is not None
        self.limit = rule.above if rule.above is not None else rule.below
        self.clear = rule.clear
        self.for_ns = int(rule.for_s * S)
        self.defn: AlarmDef = Builtins.threshold(rule)


class ThresholdDetector:
    def __init__(self, rules: list[ThresholdRule]) -> None:
        self.rules = [_Rule(r) for r in rules]
        self._since: dict[tuple[str, str], int] = {}  # (device, rule) -> beyond since

    def check(self, r: Reading, lc: Lifecycle) -> None:
        fields, quality = r.fields, r.quality
        for rule in self.rules:
            values = [v for f in rule.fields if (v := fields.get(f)) is not None
                      and (not quality or f not in quality)]
            if not values:
                continue
            if rule.above:
                worst = max(values)
                beyond, back = worst > rule.limit, worst <= rule.clear
            else:
                worst = min(values)
                beyond, back = worst < rule.limit, worst >= rule.clear
            key = (r.device, rule.defn.id)
            if beyond:
                since = self._since.setdefault(key, r.ts_ns)
                if r.ts_ns - since >= rule.for_ns and lc.needs(r.device, rule.defn.id, True):
                    side = "above" if rule.above else "below"
                    lc.signal(Signal(r.plant, r.device, rule.defn, True, r.ts_ns, r.village,
                                     worst, f"{worst:g} {side} {rule.limit:g} for "
                                            f"{(r.ts_ns - since) / S:.0f} s"))
                continue
            self._since.pop(key, None)
            if back and lc.needs(r.device, rule.defn.id, False):
                lc.signal(Signal(r.plant, r.device, rule.defn, False, r.ts_ns, r.village,
                                 worst))
