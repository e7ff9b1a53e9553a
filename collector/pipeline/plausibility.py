"""The plausibility stage: a value no device could show is stored as ``invalid``, never as a number.

Every canonical field has physical bounds (``config/fields/bounds.yaml``), most of them from
the device's rating: a 100 kW inverter cannot feed 1.57e34 W, and its lifetime counter cannot
hold more than 100 kW x 1.5 x the hours since its plant was commissioned, so even the first
reading of a counter after a start is judged. It runs first, before the counter guard, so a
garbage word never becomes the reference the guard judges the next reading by; and it sees
readings from every source alike.

Bounds are resolved once per device and field. A field with no rule passes (it is logged
once): the test suite checks that every field a profile produces has one.

It runs on every reading, so the common case is one compiled function (inside.py): per
device, a check of its field set against its bounds (a device sends the same fields poll
after poll), and a reading whose values all lie inside is done. Anything else (a value
outside or not finite, another field set, a device with a field logged as implausible)
takes the exact per-field check, which decides alone what is invalid and what is logged.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from collector.pipeline.counters import Rating
from collector.pipeline.inside import NEVER, Inside, Span, compile_inside
from collector.reading import Quality, Reading
from config.fields import EARLIEST_COMMISSIONING, FieldBounds, FieldRule, field_bounds

log = logging.getLogger(__name__)

HOUR_NS = 3600 * 10**9
_SHARED_MAX = 1024  # shared plans kept at most


@dataclass(frozen=True, slots=True)
class Bound:
    lo: float
    hi: float
    per_hour_kwh: float = 0.0  # lifetime counters: hi grows by this much per hour since t0
    t0_ns: int = 0

    def high(self, ts_ns: int) -> float:
        if not self.per_hour_kwh:
            return self.hi
        return self.hi + self.per_hour_kwh * max(0, ts_ns - self.t0_ns) / HOUR_NS


def resolve(rule: FieldRule, rating: Rating, bounds: FieldBounds) -> Bound:
    watts = rating.max_kw * 1000.0
    if rule.range is not None:
        return Bound(rule.range[0] - rule.slack, rule.range[1] + rule.slack)
    if rule.rated is not None:
        hi = rule.rated * watts + rule.slack
        return Bound(-hi, hi)
    if rule.per_volt is not None:
        hi = watts * bounds.margin / rule.per_volt + rule.slack
        return Bound(-hi, hi)
    if rule.daily is not None:
        return Bound(0.0, rule.daily * rating.max_kw * 24.0 + rule.slack)
    assert rule.lifetime is not None
    commissioned = rating.commissioned or EARLIEST_COMMISSIONING
    t0 = int(datetime(commissioned.year, commissioned.month, commissioned.day,
                      tzinfo=UTC).timestamp()) * 10**9
    return Bound(0.0, rule.slack, rule.lifetime * rating.max_kw, t0)


class PlausibilityStage:
    name = "plausibility"

    def __init__(self, ratings: Mapping[str, Rating], bounds: FieldBounds | None = None) -> None:
        self.ratings = ratings
        self.bounds = bounds or field_bounds()
        self._unbounded: set[str] = set()  # fields without bounds, warned about
        # device -> field -> its bound (None: no rule). A bound depends on the field and the
        # device's rating only, and a fleet has few distinct ratings: devices of one rating
        # share one dict, so 20,000 devices' first polls resolve each field once per rating
        # instead of a million times (the first polls of 20,000 SUN2000 took seconds of CPU)
        self._device: dict[str, dict[str, Bound | None]] = {}
        self._by_rating: dict[Rating, dict[str, Bound | None]] = {}
        self.rejected: dict[str, int] = {}  # device -> values stored as invalid
        self._logged: dict[str, set[str]] = {}  # device -> fields warned about, until good
        self._plans: dict[str, tuple[int, Inside]] = {}  # device -> (planned at ts, fast pass)
        self._shared: dict[SharedKey, tuple[int, Inside]] = {}  # a plan devices share

    def process(self, readings: list[Reading]) -> list[Reading]:
        plans = self._plans
        for i, r in enumerate(readings):
            plan = plans.get(r.device)
            if plan is None:  # a device's first reading: its rating's plan, if there is one
                plan = self._shared_plan(r)
            if plan is not None and r.ts_ns >= plan[0]:
                try:
                    if plan[1](r.fields):
                        continue  # every value inside its span: plausible, nothing to log
                except KeyError:
                    pass  # another field set
            bad = self._check(r)
            if bad:
                readings[i] = self._invalidate(r, bad)
                plans.pop(r.device, None)  # its next good reading logs "plausible again"
            else:
                self._plan(r)
        return readings

    def _plan(self, r: Reading) -> None:
        """Plan the fast pass for the device of ``r``, a reading the exact check passed.

        A span is the field's bounds or narrower, so a value inside is plausible for certain:
        a lifetime counter's high as of this reading (it only grows with time, so the plan
        holds for later readings; an earlier one takes the exact check), and no span at all
        where a bound is not finite (the exact check tells an infinity from a number) or the
        field is not resolved yet (it came as None so far).
        """
        known = self._device.get(r.device)
        if known is None or r.device in self._logged:
            self._plans.pop(r.device, None)  # "plausible again" is the exact check's to log
            return
        key = _shared_key(known, r)
        plan = self._shared.get(key)
        if plan is None or plan[0] > r.ts_ns:
            if len(self._shared) >= _SHARED_MAX:
                self._shared.clear()  # field sets that come and go: bounded, not kept
            # an hour before this reading, so the devices polled just before it (their
            # readings earlier by seconds) take it too: a lifetime counter's high an hour
            # back is narrower by one hour of years, so the plan holds for all of them
            at = r.ts_ns - HOUR_NS
            spans: list[tuple[str, Span | None]] = []
            for name in r.fields:
                b = known.get(name, _MISSING)
                if b is None:
                    spans.append((name, None))  # no rule: any value
                elif b is _MISSING:
                    spans.append((name, NEVER))
                else:
                    spans.append((name, (b.lo, b.high(at))))  # not finite: NEVER
            plan = self._shared[key] = (at, compile_inside(spans))
        self._plans[r.device] = plan

    def _shared_plan(self, r: Reading) -> tuple[int, Inside] | None:
        """The plan of ``r``'s rating and field set, planned for another device already.

        Devices of one rating share their plan: it depends on the bounds (the rating's, which
        only grow as fields resolve), the field names and the instant. A device's first
        reading takes it without the exact check (20,000 first readings checked and planned
        each on their own took seconds of CPU at start-up, and the polls fell behind).
        """
        if r.device in self._logged:
            return None
        known = self._bounds_of(r.device)
        if known is None:
            return None
        plan = self._shared.get(_shared_key(known, r))
        if plan is not None:
            self._plans[r.device] = plan
        return plan

    def _bounds_of(self, device: str) -> dict[str, Bound | None] | None:
        known = self._device.get(device)
        if known is None:
            rating = self.ratings.get(device)
            if rating is None:
                return None  # not in the config: nothing to judge it by
            known = self._device[device] = self._by_rating.setdefault(rating, {})
        return known

    def _check(self, r: Reading) -> list[tuple[str, float, Bound]]:
        known = self._bounds_of(r.device)
        if known is None:
            return []
        logged = self._logged.get(r.device)
        bad: list[tuple[str, float, Bound]] = []
        for name, value in r.fields.items():
            if value is None:
                continue
            b = known.get(name, _MISSING)
            if b is _MISSING:
                b = known[name] = self._resolve(r.device, name, self.ratings[r.device])
            if b is None:
                continue
            if not (b.lo <= value <= (b.hi if not b.per_hour_kwh else b.high(r.ts_ns))) \
                    or not math.isfinite(value):
                bad.append((name, value, b))
            elif logged and name in logged:
                logged.discard(name)
                if not logged:
                    del self._logged[r.device]
                log.info("%s: %s plausible again (%g)", r.device, name, value)
        return bad

    def _resolve(self, device: str, name: str, rating: Rating) -> Bound | None:
        rule = self.bounds.rule(name)
        if rule is None:
            if name not in self._unbounded:  # once per field, not once per device
                self._unbounded.add(name)
                log.warning("field %s (first of device %s) has no bounds in "
                            "config/fields/bounds.yaml; not checked", name, device)
            return None
        return resolve(rule, rating, self.bounds)

    def _invalidate(self, r: Reading, bad: list[tuple[str, float, Bound]]) -> Reading:
        fields = dict(r.fields)
        quality = dict(r.quality)
        for name, value, b in bad:
            fields[name] = None
            quality[name] = Quality.INVALID
            logged = self._logged.setdefault(r.device, set())
            if name not in logged:
                logged.add(name)
                log.warning("%s (plant %s): %s = %g is outside [%g, %g]: stored as invalid",
                            r.device, r.plant, name, value, b.lo, b.high(r.ts_ns))
        self.rejected[r.device] = self.rejected.get(r.device, 0) + len(bad)
        return r._replace(fields=fields, quality=quality)


SharedKey = tuple[int, int, tuple[str, ...]]


def _shared_key(known: dict[str, Bound | None], r: Reading) -> SharedKey:
    """What a plan depends on: the rating's bounds (one dict per rating, kept as long as the
    stage), how many of them are resolved (they only grow), and the reading's field names."""
    return id(known), len(known), tuple(r.fields)


_MISSING = Bound(0.0, 0.0)  # a sentinel for "not resolved yet" (distinct from None: no rule)
