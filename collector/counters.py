"""The counter guard: energy counters only rise, and daily counters reset only at midnight.

The most reported bug in peer systems (SunGather #154, huawei_solar #711/#844, Home Assistant
#66912) is an energy total that spikes because one reading of a counter dipped, read 0, or
jumped: a statistics engine then counts the whole lifetime yield again. So a reading of a
counter is checked against the last good one before it may be stored as good:

- lifetime counter lower than the reference:   ``reset`` (0 or near it) or ``dip``
- higher by more than the device could produce: ``jump``
- daily counter lower than the reference:       fine right after local midnight (the day's
  reset), else ``dip`` / ``reset`` as above

A failed check makes the field ``invalid`` (value None), records an event and keeps the old
reference, so one bad reading never becomes the baseline the next one is judged against.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Literal
from zoneinfo import ZoneInfo

from collector.reading import Quality, Reading

log = logging.getLogger(__name__)

CounterKind = Literal["lifetime", "daily"]
EventKind = Literal["dip", "reset", "jump"]


@dataclass(frozen=True, slots=True)
class CounterEvent:
    device: str
    field: str
    kind: EventKind
    ts_ns: int
    value: float  # what the device said
    reference: float  # the last good value it was judged against

    def __str__(self) -> str:
        return (f"{self.device}: {self.field} {self.kind}: read {self.value:g}, "
                f"last good {self.reference:g}")


@dataclass(frozen=True, slots=True)
class CounterLimits:
    """How generous the plausibility checks are. Defaults suit 1-minute to 1-hour polling."""

    margin: float = 1.1  # over rated power: a unit briefly runs above its nameplate
    # A device may publish its counter late (Huawei updates some every few minutes), so the
    # energy in one step can stem from before the reference was read.
    slack_s: float = 120.0
    step_kwh: float = 1.0  # one count of a coarse counter (a 1 kWh resolution is common)
    # a daily counter that drops within this long after local midnight is the day's reset,
    # even if the device's clock is a little late and the drop comes after our first poll
    midnight_window_s: float = 3600.0


@dataclass(slots=True)
class _Ref:
    value: float
    ts_ns: int  # when this value was first read: the allowance runs from here


class CounterGuard:
    """Checks every counter field of one device's readings; keeps the last good values."""

    def __init__(self, device: str, counters: Mapping[str, CounterKind], max_kw: float,
                 timezone: str = "Asia/Shanghai", limits: CounterLimits | None = None) -> None:
        self.device = device
        self.counters = dict(counters)
        self.max_kw = max_kw
        self.tz = ZoneInfo(timezone)
        self.limits = limits or CounterLimits()
        self._refs: dict[str, _Ref] = {}

    def reference(self, name: str) -> float | None:
        ref = self._refs.get(name)
        return None if ref is None else ref.value

    def check(self, reading: Reading) -> tuple[Reading, list[CounterEvent]]:
        """The reading with implausible counters made invalid, and an event for each."""
        events: list[CounterEvent] = []
        for name, kind in self.counters.items():
            value = reading.good(name)
            if value is None:
                continue
            event = self._judge(name, kind, value, reading.ts_ns)
            if event is not None:
                events.append(event)
        if not events:
            return reading, events
        fields = dict(reading.fields)
        quality = dict(reading.quality)
        for e in events:
            fields[e.field] = None  # never stored under the field's name as a good value
            quality[e.field] = Quality.INVALID
            log.warning("%s (not stored; the reference stays)", e)
        return replace(reading, fields=fields, quality=quality), events

    # -- the rules ---------------------------------------------------------------------------
    def _allowance_kwh(self, since_ns: int, ts_ns: int) -> float:
        lim = self.limits
        dt_s = max(0.0, (ts_ns - since_ns) / 1e9) + lim.slack_s
        return self.max_kw * lim.margin * dt_s / 3600.0 + lim.step_kwh

    def _local(self, ts_ns: int) -> datetime:
        return datetime.fromtimestamp(ts_ns / 1e9, UTC).astimezone(self.tz)

    def _midnight_ns(self, ts_ns: int) -> int:
        """The last local midnight at or before ``ts_ns``."""
        local = self._local(ts_ns)
        midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
        return int(midnight.timestamp()) * 10**9

    def _judge(self, name: str, kind: CounterKind, value: float,
               ts_ns: int) -> CounterEvent | None:
        ref = self._refs.get(name)
        if ref is None:  # nothing to judge the first reading by
            self._refs[name] = _Ref(value, ts_ns)
            return None
        eps = 1e-9 * max(abs(ref.value), 1.0)
        if value < ref.value - eps:
            if kind == "daily" and self._new_day(ref.ts_ns, ts_ns):
                midnight = self._midnight_ns(ts_ns)
                if value <= self._allowance_kwh(midnight, ts_ns):
                    self._refs[name] = _Ref(value, ts_ns)
                    return None
                return self._event(name, "jump", value, ref, ts_ns)
            small = value <= max(self.limits.step_kwh, 0.01 * ref.value)
            return self._event(name, "reset" if small else "dip", value, ref, ts_ns)
        if value - ref.value > self._allowance_kwh(ref.ts_ns, ts_ns):
            return self._event(name, "jump", value, ref, ts_ns)
        if value > ref.value + eps:
            self._refs[name] = _Ref(value, ts_ns)
        # An unchanged value keeps the old timestamp, so a counter that stood still and then
        # catches up is allowed the energy of the whole time it stood.
        return None

    def _new_day(self, ref_ns: int, ts_ns: int) -> bool:
        if self._local(ref_ns).date() != self._local(ts_ns).date():
            return True
        return (ts_ns - self._midnight_ns(ts_ns)) / 1e9 <= self.limits.midnight_window_s

    def _event(self, name: str, kind: EventKind, value: float, ref: _Ref,
               ts_ns: int) -> CounterEvent:
        return CounterEvent(self.device, name, kind, ts_ns, value, ref.value)
