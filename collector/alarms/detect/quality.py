"""Data quality: counters the guard refused, a value stuck on one number, the spool dropping.

- **Counters:** the counter guard (the stage before this one) makes a counter that dipped,
  reset or jumped ``invalid``; such a field raises ``counter-<field>`` (the guard's event kind
  in the detail), and a good value of it again is off.
- **Stuck:** a watched field (``data_quality.stuck.fields``) that reads the very same number
  for ``for_s`` (and at least two readings) while the sun is above ``min_elevation_deg``: a
  frozen register or a logger repeating its cache. A power near its limit is not judged: an
  inverter clipping at its rating (within 3 %), or a plant's meter at 90 % of the plant's AC
  capacity, holds one value legitimately.
- **Spool:** a sink whose self-metrics count dropped readings (the InfluxDB spool over its
  cap) raises ``spool-dropping`` for the site; a tick with no new drop is off.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from collector.alarms.builtin import Builtins
from collector.alarms.detect.sun import SunTracker
from collector.alarms.fleet import FleetInfo
from collector.alarms.lifecycle import Lifecycle
from collector.alarms.model import Signal
from collector.metrics import Metrics
from collector.reading import Quality, Reading
from config.alarm_settings import StuckSettings

S = 1_000_000_000
EventOf = Callable[[str, str], str | None]  # (device, field) -> the guard's last event kind


class CounterDetector:
    def __init__(self, builtins: Builtins, event_of: EventOf | None = None) -> None:
        self.builtins = builtins
        self.event_of = event_of

    def check(self, r: Reading, lc: Lifecycle) -> None:
        if not r.quality and r.device not in lc.by_device:
            return  # every counter good, and no alarm to clear: most readings
        for f in r.counters:
            q = r.quality.get(f) if r.quality else None
            if q is Quality.INVALID:
                d = self.builtins.counter(f)
                if lc.needs(r.device, d.id, True):
                    kind = self.event_of(r.device, f) if self.event_of else None
                    lc.signal(Signal(r.plant, r.device, d, True, r.ts_ns, r.village, None,
                                     f"{f} refused by the counter guard"
                                     + (f" ({kind})" if kind else "")))
            elif q is None and lc.has_open(r.device) and r.fields.get(f) is not None:
                alarm_id = "counter-" + f
                if lc.needs(r.device, alarm_id, False):
                    lc.signal(Signal(r.plant, r.device, self.builtins.counter(f), False,
                                     r.ts_ns, r.village))


POWER_FIELDS = frozenset({"p_ac_w", "p_w", "p_dc_w"})
CLIPPING = 0.97  # an inverter at this share of its rating is clipping
METER_NEAR_LIMIT = 0.9  # a meter at this share of the plant's AC capacity: all clipping


class StuckDetector:
    def __init__(self, builtins: Builtins, settings: StuckSettings, sun: SunTracker,
                 fleet: FleetInfo) -> None:
        self.builtins = builtins
        self.fields = tuple(settings.fields)
        self.for_ns = int(settings.for_s * S)
        self.min_deg = settings.min_elevation_deg
        self.sun = sun
        # device -> field -> (value, since, count): per device, so no key is built per reading
        self._held: dict[str, dict[str, tuple[float, int, int]]] = {}
        self._limit_w: dict[str, float] = {}
        for d in fleet.devices.values():
            plant = fleet.plants[d.plant]
            self._limit_w[d.id] = 1000 * (plant.kw_ac * METER_NEAR_LIMIT if d.kind == "meter"
                                          else d.rating_kw * CLIPPING)

    def _at_limit(self, device: str, field: str, v: float) -> bool:
        limit = self._limit_w.get(device)
        return field in POWER_FIELDS and limit is not None and abs(v) >= limit

    def check(self, r: Reading, lc: Lifecycle) -> None:
        fields, quality = r.fields, r.quality
        mine = None
        for f in self.fields:
            v = fields.get(f)
            if v is None or (quality and f in quality):
                continue
            if mine is None:
                mine = self._held.get(r.device)
                if mine is None:
                    mine = self._held[r.device] = {}
            held = mine.get(f)
            if held is None or held[0] != v:
                mine[f] = (v, r.ts_ns, 1)
                if held is not None and r.device in lc.by_device:
                    d = self.builtins.stuck(f)
                    if lc.needs(r.device, d.id, False):
                        lc.signal(Signal(r.plant, r.device, d, False, r.ts_ns, r.village, v))
                continue
            el = self.sun.elevation.get(r.plant)
            value, since, count = held
            mine[f] = (value, since, count + 1)
            if el is None or el < self.min_deg or self._at_limit(r.device, f, v):
                continue  # dark, or clipping: no judgement
            d = self.builtins.stuck(f)
            if r.ts_ns - since >= self.for_ns and lc.needs(r.device, d.id, True):
                lc.signal(Signal(r.plant, r.device, d, True, r.ts_ns, r.village, v,
                                 f"{f} = {v:g} in {count + 1} readings over "
                                 f"{(r.ts_ns - since) / S:.0f} s"))


class SpoolDetector:
    """Watches the self-metrics of the sinks (InfluxSink.metrics) for dropped readings."""

    def __init__(self, builtins: Builtins, site: str) -> None:
        self.defn = builtins.spool
        self.site = site
        self.metrics: list[Metrics] = []
        self._seen: dict[int, float] = {}

    def watch(self, sinks: Sequence[object]) -> None:
        for sink in sinks:
            m = getattr(sink, "metrics", None)
            if isinstance(m, Metrics) and all(m is not x for x in self.metrics):
                self.metrics.append(m)
                self._seen[id(m)] = m.counters["readings_dropped"]

    def tick(self, now_ns: int, lc: Lifecycle) -> None:
        dropped = 0.0
        for m in self.metrics:
            n = m.counters["readings_dropped"]
            dropped += n - self._seen[id(m)]
            self._seen[id(m)] = n
        if dropped > 0 and lc.needs("spool", self.defn.id, True):
            lc.signal(Signal(self.site, "spool", self.defn, True, now_ns, None, dropped,
                             f"{dropped:.0f} readings dropped"))
        elif dropped == 0 and lc.needs("spool", self.defn.id, False):
            lc.signal(Signal(self.site, "spool", self.defn, False, now_ns))
