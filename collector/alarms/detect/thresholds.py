"""Thresholds from the config: a limit on canonical fields, with a duration and hysteresis.

A rule is beyond its limit when any of its fields is (the highest for ``above``, the lowest for
``below``); it raises once it has stayed beyond for ``for_s``, and is off only when every field
is back past ``clear``. Between the limit and ``clear`` nothing changes, so a value hovering at
the limit does not raise and clear on every poll. A field missing from a reading, or not good,
says nothing.

Most readings of a device with nothing pending and nothing open are inside every limit; for
them one loop over the device's fields against one span per field (above the highest "below"
limit, under the lowest "above" one) says so, and nothing else is looked at.
"""

from __future__ import annotations

import math

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


Plan = list[tuple[_Rule, tuple[str, ...]]]  # the rules a device's fields meet, and those fields
Spans = tuple[tuple[str, float, float], ...]  # (field, lo, hi): inside, no rule is beyond


def _spans(plan: Plan) -> Spans:
    """Per field of the plan, the span inside which it is beyond none of its rules."""
    lo: dict[str, float] = {}
    hi: dict[str, float] = {}
    for rule, present in plan:
        for f in present:
            lo.setdefault(f, -math.inf)
            hi.setdefault(f, math.inf)
            if rule.above:  # beyond when greater
                hi[f] = min(hi[f], rule.limit)
            else:  # beyond when lower
                lo[f] = max(lo[f], rule.limit)
    return tuple((f, lo[f], hi[f]) for f in lo)


class ThresholdDetector:
    def __init__(self, rules: list[ThresholdRule]) -> None:
        self.rules = [_Rule(r) for r in rules]
        self._since: dict[str, dict[str, int]] = {}  # device -> rule -> beyond since
        # device -> (its readings' field count, [(rule, the rule's fields it has)], spans): a
        # device reports the same fields poll after poll, so the rules that apply are found once
        self._plans: dict[str, tuple[int, Plan, Spans]] = {}

    def _plan(self, r: Reading) -> tuple[int, Plan, Spans]:
        cached = self._plans.get(r.device)
        if cached is not None and cached[0] == len(r.fields):
            return cached
        plan = [(rule, present) for rule in self.rules
                if (present := tuple(f for f in rule.fields if f in r.fields))]
        cached = self._plans[r.device] = (len(r.fields), plan, _spans(plan))
        return cached

    def check(self, r: Reading, lc: Lifecycle) -> None:
        fields, quality = r.fields, r.quality
        has_open = lc.has_open(r.device)
        _, plan, spans = self._plan(r)
        if not has_open and r.device not in self._since:
            # nothing pending, nothing to clear: only a value beyond a limit matters. NaN is
            # outside every span, and takes the rules' own comparisons below.
            for f, lo, hi in spans:
                v = fields.get(f)
                if v is None or (quality and f in quality):
                    continue
                if not lo <= v <= hi:
                    break
            else:
                return
        for rule, present in plan:
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
                since = self._since.setdefault(r.device, {}).setdefault(rule.defn.id, r.ts_ns)
                if r.ts_ns - since >= rule.for_ns and lc.needs(r.device, rule.defn.id, True):
                    side = "above" if rule.above else "below"
                    lc.signal(Signal(r.plant, r.device, rule.defn, True, r.ts_ns, r.village,
                                     worst, f"{worst:g} {side} {rule.limit:g} for "
                                            f"{(r.ts_ns - since) / S:.0f} s"))
                continue
            pending = self._since.get(r.device)
            if pending is not None:
                pending.pop(rule.defn.id, None)
                if not pending:
                    del self._since[r.device]
            if back and has_open and lc.needs(r.device, rule.defn.id, False):
                lc.signal(Signal(r.plant, r.device, rule.defn, False, r.ts_ns, r.village,
                                 worst))
