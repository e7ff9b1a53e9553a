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

Two drops are not errors, and the guard tells them apart from a bad reading:

- ``wrap``: an unsigned counter (SunSpec acc32) rolled over at 2**32 counts. When the decoder
  says where the field wraps (``wrap_at``), the reference sits in the top 10% of that range and
  the new value is small, the value continues from the reference (value + wrap_at) and stays
  good; later readings carry the same offset, so the stored counter keeps rising.
- ``rebase``: the counter really restarted (inverter swapped, firmware reset). After
  ``rebase_after`` readings in a row below the reference that agree among themselves (never
  falling, each rise possible at rated power, and rising overall, so a register stuck at 0 never
  qualifies) the newest becomes the reference, and counting goes on from there.

Rejections are logged once per change of kind (WARNING), then at DEBUG: a counter that stays
reset must not write a warning every poll.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Literal
from zoneinfo import ZoneInfo

from collector.reading import Quality, Reading
from config.profiles import ProfileRegistry
from config.schema import Config

log = logging.getLogger(__name__)

CounterKind = Literal["lifetime", "daily"]
EventKind = Literal["dip", "reset", "jump", "wrap", "rebase"]


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
    # consistent readings below the reference that make a new baseline (a genuine reset)
    rebase_after: int = 3
    wrap_zone: float = 0.1  # a reference in the top 10% of the range may wrap to the bottom 10%


@dataclass(slots=True)
class _Ref:
    value: float
    ts_ns: int  # when this value was first read: the allowance runs from here


@dataclass(slots=True)
class _State:
    """What the guard remembers of one counter field."""

    ref: _Ref
    offset: float = 0.0  # added to raw values after a wrap (a multiple of wrap_at)
    below: list[_Ref] = field(default_factory=list)  # a run of readings below ref: a restart?
    logged: str | None = None  # the rejection kind last logged at WARNING


class CounterGuard:
    """Checks every counter field of one device's readings; keeps the last good values."""

    def __init__(self, device: str, counters: Mapping[str, CounterKind], max_kw: float,
                 timezone: str = "Asia/Shanghai", limits: CounterLimits | None = None) -> None:
        self.device = device
        self.counters = dict(counters)
        self.max_kw = max_kw
        self.tz = ZoneInfo(timezone)
        self.limits = limits or CounterLimits()
        self._state: dict[str, _State] = {}

    def reference(self, name: str) -> float | None:
        st = self._state.get(name)
        return None if st is None else st.ref.value

    def check(self, reading: Reading, wrap_at: Mapping[str, float] | None = None
              ) -> tuple[Reading, list[CounterEvent]]:
        """The reading with implausible counters made invalid, and an event for each.

        ``wrap_at``: where each counter field rolls over, in its unit (``Decoded.wrap_at``).
        Wrapped and re-based counters stay good (a wrapped one continues from its reference).
        """
        events: list[CounterEvent] = []
        changed: dict[str, float | None] = {}
        fields, quality, ts_ns, state = reading.fields, reading.quality, reading.ts_ns, \
            self._state
        lim = self.limits
        kw = self.max_kw * lim.margin  # _allowance_kwh's first product, as it computes it
        for name, kind in self.counters.items():
            # reading.good(name), inlined: this runs for every counter of every reading
            value = fields.get(name)
            if value is None or (quality and quality.get(name, GOOD) is not GOOD):
                continue
            st = state.get(name)
            if st is not None and not st.below and st.logged is None:
                # the common case, _judge's last lines inlined: a value at or a possible step
                # above the reference, with no run below it pending and nothing logged
                ref = st.ref
                rv = ref.value
                stored = value + st.offset
                a = abs(rv)
                eps = 1e-9 * (1.0 if a < 1.0 else a)  # as max(abs(ref), 1.0), NaN too
                if not stored < rv - eps:
                    dt = (ts_ns - ref.ts_ns) / 1e9  # as _allowance_kwh(ref.ts_ns, ts_ns)
                    dt_s = (dt if dt > 0.0 else 0.0) + lim.slack_s
                    if not stored - rv > kw * dt_s / 3600.0 + lim.step_kwh:
                        if stored > rv + eps:  # a new reference, in place: below is empty,
                            ref.value, ref.ts_ns = stored, ts_ns  # so nothing else holds ref
                        if stored != value:
                            changed[name] = stored
                        continue
            wrap = (wrap_at or {}).get(name) if kind == "lifetime" else None
            stored, event = self._judge(name, kind, value, ts_ns, wrap)
            if event is not None:
                events.append(event)
            if stored != value:
                changed[name] = stored
        if not changed:
            return reading, events
        fields = dict(reading.fields)
        quality = dict(reading.quality)
        for name, stored in changed.items():
            fields[name] = stored  # None: never stored under the field's name as a good value
            if stored is None:
                quality[name] = Quality.INVALID
        return reading._replace(fields=fields, quality=quality), events

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

    def _judge(self, name: str, kind: CounterKind, raw: float, ts_ns: int,
               wrap: float | None) -> tuple[float | None, CounterEvent | None]:
        """(the value to store, None if rejected; the event, if any)."""
        st = self._state.get(name)
        if st is None:  # nothing to judge the first reading by
            self._state[name] = _State(_Ref(raw, ts_ns))
            return raw, None
        ref = st.ref
        value = raw + st.offset
        eps = 1e-9 * max(abs(ref.value), 1.0)
        if value < ref.value - eps:
            if kind == "daily" and self._new_day(ref.ts_ns, ts_ns):
                midnight = self._midnight_ns(ts_ns)
                if value <= self._allowance_kwh(midnight, ts_ns):
                    self._accept(st, _Ref(value, ts_ns))
                    return value, None
                return None, self._reject(name, st, "jump", value, ts_ns)
            if wrap and self._wrapped(st, raw, wrap, ts_ns):
                st.offset += wrap
                self._accept(st, _Ref(raw + st.offset, ts_ns))
                event = self._event(name, "wrap", raw + st.offset, ref, ts_ns)
                log.info("%s (continues from the reference)", event)
                return raw + st.offset, event
            if self._restarted(st, _Ref(value, ts_ns)):
                return raw, self._rebase(name, st, raw, ts_ns)
            # judged on the device's own count: after a wrap the offset is not the device's
            small = raw <= max(self.limits.step_kwh, 0.01 * (ref.value - st.offset))
            return None, self._reject(name, st, "reset" if small else "dip", value, ts_ns)
        if value - ref.value > self._allowance_kwh(ref.ts_ns, ts_ns):
            return None, self._reject(name, st, "jump", value, ts_ns)
        # An unchanged value keeps the old timestamp, so a counter that stood still and then
        # catches up is allowed the energy of the whole time it stood.
        self._accept(st, _Ref(value, ts_ns) if value > ref.value + eps else ref)
        return value, None

    def _accept(self, st: _State, ref: _Ref) -> None:
        st.ref = ref
        st.below.clear()
        if st.logged is not None:
            log.info("%s: counter good again at %g", self.device, ref.value)
        st.logged = None

    def _wrapped(self, st: _State, raw: float, wrap: float, ts_ns: int) -> bool:
        zone = self.limits.wrap_zone * wrap
        raw_ref = st.ref.value - st.offset
        return raw_ref >= wrap - zone and raw <= zone and \
            raw + wrap - raw_ref <= self._allowance_kwh(st.ref.ts_ns, ts_ns)

    def _restarted(self, st: _State, now: _Ref) -> bool:
        """Whether ``now`` completes a run of readings that look like a counter restarted."""
        run = st.below
        if run:
            last = run[-1]
            rise = now.value - last.value
            if rise < -1e-9 * max(abs(last.value), 1.0) or \
                    rise > self._allowance_kwh(last.ts_ns, now.ts_ns):
                run.clear()  # not consistent with the run: it starts again from this reading
        run.append(now)
        return len(run) >= self.limits.rebase_after and run[-1].value > run[0].value

    def _rebase(self, name: str, st: _State, raw: float, ts_ns: int) -> CounterEvent:
        event = self._event(name, "rebase", raw, st.ref, ts_ns)
        log.warning("%s: the counter restarted (device swapped or reset); counting goes on "
                    "from the new value", event)
        st.offset = 0.0  # the new counter starts its own range
        st.logged = None
        self._accept(st, _Ref(raw, ts_ns))
        return event

    def _reject(self, name: str, st: _State, kind: EventKind, value: float,
                ts_ns: int) -> CounterEvent:
        event = self._event(name, kind, value, st.ref, ts_ns)
        if st.logged != kind:  # once per change of state; every repeat at DEBUG
            log.warning("%s (not stored; the reference stays)", event)
            st.logged = kind
        else:
            log.debug("%s (not stored; repeated)", event)
        return event

    def _new_day(self, ref_ns: int, ts_ns: int) -> bool:
        if self._local(ref_ns).date() != self._local(ts_ns).date():
            return True
        return (ts_ns - self._midnight_ns(ts_ns)) / 1e9 <= self.limits.midnight_window_s

    def _event(self, name: str, kind: EventKind, value: float, ref: _Ref,
               ts_ns: int) -> CounterEvent:
        return CounterEvent(self.device, name, kind, ts_ns, value, ref.value)


GOOD = Quality.GOOD
METER_HEADROOM = 1.2  # a grid meter sees at most the plant's AC capacity, plus margin
EVENTS_KEPT = 1000  # per device, for tests and tools; alarms will take them over


@dataclass(frozen=True, slots=True)
class Rating:
    """What the guard needs to know of a device: its ceiling and its local midnight."""

    max_kw: float
    timezone: str
    commissioned: date | None = None  # the plant's; None: the programme's earliest


def device_ratings(config: Config, registry: ProfileRegistry) -> dict[str, Rating]:
    """Each configured device's rating: the most power it can pass (its counters' ceiling).

    An inverter's own rating wins; otherwise the larger of its share of the plant's AC and its
    profile's rating, because a ceiling set too low would reject good readings. A meter sees
    at most the plant's AC capacity. Each plant's inverters are counted once (linear in the
    number of devices: 20,000 devices in one plant must not take minutes to start).
    """
    out: dict[str, Rating] = {}
    for plant in config.plants():
        devices = plant.all_devices()
        inverters = sum(1 for d in devices
                        if d.profile in registry and registry[d.profile].kind == "inverter")
        share = plant.capacity_kw_ac / max(1, inverters)
        for d in devices:
            profile = registry.get(d.profile)
            if profile is not None and profile.kind == "meter":
                kw = plant.capacity_kw_ac * METER_HEADROOM
            elif d.rated_kw_ac:
                kw = d.rated_kw_ac
            else:
                kw = max(share, (profile.rated_kw_ac if profile else None) or 0.0)
            out[d.id] = Rating(kw, plant.timezone, plant.commissioned)
        for gw in plant.dlt645_gateways:  # settlement meters: the plant's AC, plus margin
            for m in gw.meters:
                out[m.id] = Rating(plant.capacity_kw_ac * METER_HEADROOM, plant.timezone,
                                   plant.commissioned)
    return out


class CounterStage:
    """The pipeline stage: one guard per device, made on its first reading with counters.

    Which fields are counters comes with the reading (``Reading.counters``), so readings from
    any source are guarded alike. A device with no rating (not in the config) passes
    unguarded: without a ceiling a jump cannot be told from a good reading.
    """

    name = "counters"

    def __init__(self, ratings: Mapping[str, Rating], limits: CounterLimits | None = None
                 ) -> None:
        self.ratings = ratings
        self.limits = limits
        self.guards: dict[str, CounterGuard] = {}
        self.events: dict[str, deque[CounterEvent]] = {}
        self.event_counts: dict[str, int] = {}

    def process(self, readings: list[Reading]) -> list[Reading]:
        guards = self.guards
        for i, r in enumerate(readings):
            if not r.counters:
                continue
            guard = guards.get(r.device)
            if guard is None:
                rating = self.ratings.get(r.device)
                if rating is None:
                    continue
                guard = self.guards[r.device] = CounterGuard(
                    r.device, r.counters, rating.max_kw, rating.timezone, self.limits)
            checked, events = guard.check(r, r.wrap_at)
            if events:
                self.events.setdefault(r.device, deque(maxlen=EVENTS_KEPT)).extend(events)
                self.event_counts[r.device] = self.event_counts.get(r.device, 0) + len(events)
            if checked is not r:
                readings[i] = checked
        return readings

    def events_of(self, device: str) -> list[CounterEvent]:
        return list(self.events.get(device, ()))
