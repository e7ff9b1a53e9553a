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
from collections.abc import Callable, Mapping
from types import FunctionType
from typing import cast

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


_FIELD_SETS_MAX = 1024
Calm = Callable[[Mapping[str, float | None]], bool]
_calm: dict[Spans, Calm] = {}  # spans -> its check, shared by every device with those fields


def calm_check(spans: Spans) -> Calm:
    """A straight-line function: True if every field present is inside its span (NaN is in
    none). Compiled once per set of spans, its limits default arguments (fast locals)."""
    check = _calm.get(spans)
    if check is None:
        params, lines = ["f"], []
        for k, (f, _, _) in enumerate(spans):
            params += [f"lo{k}=0.0", f"hi{k}=0.0"]
            lines += [f"    v = f.get({f!r})", f"    if v is not None and not lo{k} <= v <= hi{k}:",
                      "        return False"]
        source = "\n".join([f"def calm({', '.join(params)}):", *lines, "    return True", ""])
        namespace: dict[str, object] = {}
        exec(compile(source, "<threshold fast pass>", "exec"), namespace)
        template = cast(FunctionType, namespace["calm"])
        template.__defaults__ = tuple(b for _, lo, hi in spans for b in (lo, hi)) or None
        check = _calm[spans] = cast(Calm, template)
    return check


def _inside(spans: Spans, fields: Mapping[str, float | None],
            quality: Mapping[str, object]) -> bool:
    """``calm_check``'s answer for a reading with qualities: fields with one say nothing."""
    for f, lo, hi in spans:
        v = fields.get(f)
        if v is not None and f not in quality and not lo <= v <= hi:
            return False
    return True


class ThresholdDetector:
    def __init__(self, rules: list[ThresholdRule]) -> None:
        self.rules = [_Rule(r) for r in rules]
        self._since: dict[str, dict[str, int]] = {}  # device -> rule -> beyond since
        # device -> (its readings' field count, [(rule, the rule's fields it has)], spans): a
        # device reports the same fields poll after poll, so the rules that apply are found once
        self._plans: dict[str, tuple[int, Plan, Spans, Calm]] = {}
        # field set -> its plan: the plan depends on the field names only, and a fleet's
        # devices share a few sets (20,000 first readings planned each their own: 1.5 s)
        self._by_fields: dict[tuple[str, ...], tuple[int, Plan, Spans, Calm]] = {}

    def _plan(self, r: Reading) -> tuple[int, Plan, Spans, Calm]:
        cached = self._plans.get(r.device)
        if cached is not None and cached[0] == len(r.fields):
            return cached
        names = tuple(r.fields)
        cached = self._by_fields.get(names)
        if cached is None:
            if len(self._by_fields) >= _FIELD_SETS_MAX:
                self._by_fields.clear()  # field sets that come and go: bounded, not kept
            plan = [(rule, present) for rule in self.rules
                    if (present := tuple(f for f in rule.fields if f in r.fields))]
            spans = _spans(plan)
            cached = self._by_fields[names] = (len(names), plan, spans, calm_check(spans))
        self._plans[r.device] = cached
        return cached

    def check(self, r: Reading, lc: Lifecycle) -> None:
        fields, quality = r.fields, r.quality
        has_open = r.device in lc.by_device
        cached = self._plans.get(r.device)
        if cached is None or cached[0] != len(fields):
            cached = self._plan(r)
        _, plan, spans, calm = cached
        # nothing pending, nothing to clear: only a value beyond a limit matters. NaN is
        # outside every span, and takes the rules' own comparisons below.
        if not has_open and r.device not in self._since and \
                (calm(fields) if not quality else _inside(spans, fields, quality)):
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
