"""Thresholds from the config: a limit on canonical fields, with a duration and hysteresis.

A rule is beyond its limit when any of its fields is (the highest for ``above``, the lowest for
``below``); it raises once it has stayed beyond for ``for_s``, and is off only when every field
is back past ``clear``. Between the limit and ``clear`` nothing changes, so a value hovering at
the limit does not raise and clear on every poll. A field missing from a reading, or not good,
says nothing.
"""

from __future__ import annotations

from collector.alarms.builtin import Builtins
from collector.alarms.lifecycle import Lifecycle
from collector.alarms.model import AlarmDef, Signal
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
        # device -> (its readings' field count, [(rule, the rule's fields it has)]): a device
        # reports the same fields poll after poll, so the rules that apply are found once
        self._plans: dict[str, tuple[int, list[tuple[_Rule, tuple[str, ...]]]]] = {}

    def _plan(self, r: Reading) -> list[tuple[_Rule, tuple[str, ...]]]:
        cached = self._plans.get(r.device)
        if cached is not None and cached[0] == len(r.fields):
            return cached[1]
        plan = [(rule, present) for rule in self.rules
                if (present := tuple(f for f in rule.fields if f in r.fields))]
        self._plans[r.device] = (len(r.fields), plan)
        return plan

    def check(self, r: Reading, lc: Lifecycle) -> None:
        fields, quality = r.fields, r.quality
        has_open = lc.has_open(r.device)
        for rule, present in self._plan(r):
            if len(present) == 1 and not quality:
                v = fields.get(present[0])
                if v is None:
                    continue
                worst = v
            else:
                values = [v for f in present if (v := fields.get(f)) is not None
                          and (not quality or f not in quality)]
                if not values:
                    continue
                worst = max(values) if rule.above else min(values)
            if rule.above:
                beyond, back = worst > rule.limit, worst <= rule.clear
            else:
                beyond, back = worst < rule.limit, worst >= rule.clear
            if beyond:
                key = (r.device, rule.defn.id)
                since = self._since.setdefault(key, r.ts_ns)
                if r.ts_ns - since >= rule.for_ns and lc.needs(r.device, rule.defn.id, True):
                    side = "above" if rule.above else "below"
                    lc.signal(Signal(r.plant, r.device, rule.defn, True, r.ts_ns, r.village,
                                     worst, f"{worst:g} {side} {rule.limit:g} for "
                                            f"{(r.ts_ns - since) / S:.0f} s"))
                continue
            if self._since:
                self._since.pop((r.device, rule.defn.id), None)
            if back and has_open and lc.needs(r.device, rule.defn.id, False):
                lc.signal(Signal(r.plant, r.device, rule.defn, False, r.ts_ns, r.village,
                                 worst))
