"""Underperformance an inverter shows against the sun, its own strings and its peers.

- **Zero output:** an inverter that answers but reports no AC power (at most ``max_w``) while
  the sun is at least ``min_elevation_deg`` high, for ``for_s``. Diffuse light alone makes a
  working array produce at that height, so nothing but a fault explains it.
- **String loss:** a PV string whose current is below ``ratio`` of the median of its sibling
  strings (the inverter's other strings in use), for ``for_s``; off at ``clear_ratio``. Not
  judged when the siblings' median is under ``min_current_a`` (dusk, dawn). A string is "in
  use" once it has carried ``min_current_a``: an unused input reads 0 A all day and is not
  a lost string.
- **Below its peers:** an inverter's specific yield (kWh per kWp, from its lifetime counter)
  over each ``window_s`` window below ``ratio`` of the median of the plant's inverters; off at
  ``clear_ratio``. Needs ``min_peers`` inverters with a reading near both ends of the window
  and a median of at least ``min_yield_kwh_kwp`` (no judgement in the dark or under snow).
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Callable, Mapping, Sequence
from operator import itemgetter

from collector.alarms.builtin import Builtins
from collector.alarms.detect.sun import SunTracker
from collector.alarms.fleet import DeviceInfo, PlantInfo
from collector.alarms.lifecycle import Lifecycle
from collector.alarms.model import Signal
from collector.reading import Quality, Reading
from config.alarm_settings import PeerYieldSettings, StringSettings, ZeroOutputSettings

S = 1_000_000_000
GOOD = Quality.GOOD
_STRING_FIELD = re.compile(r"^pv(\d+)_i_a$")


class ZeroOutputDetector:
    def __init__(self, builtins: Builtins, settings: ZeroOutputSettings,
                 sun: SunTracker) -> None:
        self.defn = builtins.zero_output
        self.s = settings
        self.for_ns = int(settings.for_s * S)
        self.sun = sun
        self._since: dict[str, int] = {}

    def check(self, r: Reading, lc: Lifecycle) -> None:
        if r.kind != "inverter":
            return
        q = r.quality  # r.good("p_ac_w"), inlined: this runs per reading
        p = r.fields.get("p_ac_w") if not q or q.get("p_ac_w", GOOD) is GOOD else None
        el = self.sun.elevation.get(r.plant)
        if p is None or el is None:
            return
        if p > self.s.max_w:
            if self._since:
                self._since.pop(r.device, None)
            if r.device in lc.by_device and lc.needs(r.device, self.defn.id, False):
                lc.signal(Signal(r.plant, r.device, self.defn, False, r.ts_ns, r.village, p))
        elif el >= self.s.min_elevation_deg:
            since = self._since.setdefault(r.device, r.ts_ns)
            if r.ts_ns - since >= self.for_ns and lc.needs(r.device, self.defn.id, True):
                lc.signal(Signal(r.plant, r.device, self.defn, True, r.ts_ns, r.village, p,
                                 f"AC power {p:g} W with the sun {el:.0f} degrees high for "
                                 f"{(r.ts_ns - since) / S:.0f} s"))
        else:
            self._since.pop(r.device, None)  # too low to say: start again tomorrow


def median_without(ordered: list[float], j: int) -> float:
    """The median of ``ordered`` (sorted) without its element at index ``j``."""
    m = len(ordered) - 1  # how many remain
    k = m // 2
    hi = ordered[k] if k < j else ordered[k + 1]
    if m % 2:
        return hi
    lo = ordered[k - 1] if k - 1 < j else ordered[k]
    return (lo + hi) / 2


Values = Callable[[Mapping[str, float | None]], tuple[float | None, ...]]


def values_of(names: Sequence[str]) -> Values:
    """A function returning the values of ``names`` in a reading's fields, in one C call (a
    field that is missing raises KeyError)."""
    if len(names) > 1:
        return itemgetter(*names)
    if names:  # itemgetter of one name returns the value, not a tuple of it
        name = names[0]
        return lambda fields: (fields[name],)
    return lambda fields: ()  # every string in use: called on each reading, so no generator


class _Strings:
    """A device's PV strings, as its readings show them: found once, not per reading."""

    __slots__ = ("count", "idle", "in_use", "live", "unused")

    def __init__(self, count: int, in_use: list[tuple[int, str]],
                 unused: list[tuple[int, str]]) -> None:
        self.count = count  # its readings' field count when found
        self.in_use = in_use  # (number, field), sorted
        self.unused = unused  # not (yet) in use
        self._getters()

    def _getters(self) -> None:
        self.live = values_of([f for _, f in self.in_use])
        self.idle = values_of([f for _, f in self.unused])

    def use(self, xs: list[tuple[int, str]]) -> None:
        """These strings carry current now: in use from here on (getters made once for all:
        a device's first reading finds most of its strings at once)."""
        for x in xs:
            self.unused.remove(x)
        self.in_use += xs
        self.in_use.sort()
        self._getters()


_FIELD_SETS_MAX = 1024


class StringDetector:
    def __init__(self, builtins: Builtins, settings: StringSettings) -> None:
        self.builtins = builtins
        self.s = settings
        self.for_ns = int(settings.for_s * S)
        self._strings: dict[str, _Strings] = {}
        self._since: dict[str, dict[int, int]] = {}  # device -> string -> below since
        self._found: dict[tuple[str, ...], list[tuple[int, str]]] = {}  # fields -> strings

    def _split(self, r: Reading) -> _Strings:
        known = self._strings.get(r.device)
        if known is not None and known.count == len(r.fields):
            return known
        used = {n for n, _ in known.in_use} if known else set()
        names = tuple(r.fields)
        found = self._found.get(names)
        if found is None:  # once per field set: a fleet's devices share a few
            if len(self._found) >= _FIELD_SETS_MAX:
                self._found.clear()
            found = self._found[names] = sorted(
                (int(m.group(1)), f) for f in names
                if (m := _STRING_FIELD.match(f)) is not None)
        known = self._strings[r.device] = _Strings(
            len(r.fields), [x for x in found if x[0] in used],
            [x for x in found if x[0] not in used])
        return known

    def _nothing_to_do(self, strings: _Strings, fields: Mapping[str, float | None]) -> bool:
        """The common case, for a reading without qualities of a device with nothing pending
        or open, in plain floats: no unused string carries current now, and the weakest
        string keeps up with the others (as ``check`` judges it). None, NaN or a missing
        field: False, and ``check`` judges as ever."""
        lo = self.s.min_current_a
        try:  # None among them makes a comparison raise TypeError
            idle, live = strings.idle(fields), strings.live(fields)
            # max() is NaN only when the first is (NaN never wins a comparison); else it is
            # the highest number, and below lo no string starts to carry
            if idle and not max(idle) < lo:
                return False
            if len(live) < 2:
                return None not in live
            values = sorted(live)
            k = (len(values) - 1) // 2  # median_without(values, 0), inlined
            weakest = (values[k] + values[k + 1]) / 2 if len(values) % 2 else values[k + 1]
            total = sum(values)
        except (KeyError, TypeError):
            return False
        return weakest >= lo and values[0] >= self.s.clear_ratio * weakest and \
            total == total  # no NaN: a float sort orders as check's tuples do

    def check(self, r: Reading, lc: Lifecycle) -> None:
        fields, quality, lo = r.fields, r.quality, self.s.min_current_a
        strings = self._strings.get(r.device)
        if strings is None or strings.count != len(fields):
            strings = self._split(r)
        if not quality and r.device not in lc.by_device and not self._since.get(r.device) and \
                self._nothing_to_do(strings, fields):
            return
        for _, f in strings.unused:  # a string is in use once it has carried current
            v = fields.get(f)
            if v is not None and v >= lo and (not quality or f not in quality):
                strings.use([x for x in strings.unused  # this one, and any other carrying
                             if (v := fields.get(x[1])) is not None and v >= lo
                             and (not quality or x[1] not in quality)])
                break
        in_use = strings.in_use
        if len(in_use) < 2:
            return
        if quality:
            live = [(v, n) for n, f in in_use
                    if (v := fields.get(f)) is not None and f not in quality]
        else:
            live = [(v, n) for n, f in in_use if (v := fields.get(f)) is not None]
        if len(live) < 2:
            return
        live.sort()
        ordered = [v for v, _ in live]
        # the weakest string keeps up with the others, nothing is pending and nothing is
        # open: then no string needs judging one by one
        weakest = median_without(ordered, 0)
        if weakest >= lo and ordered[0] >= self.s.clear_ratio * weakest and \
                not lc.has_open(r.device) and not self._since.get(r.device):
            return
        for j, (amps, n) in enumerate(live):
            siblings = median_without(ordered, j)
            if siblings >= lo:  # else too dark to judge
                self._judge(r, lc, n, amps, siblings)

    def _judge(self, r: Reading, lc: Lifecycle, n: int, amps: float, siblings: float) -> None:
        ratio = amps / siblings
        d = self.builtins.string_low(n)
        pending = self._since.setdefault(r.device, {})
        if ratio < self.s.ratio:
            since = pending.setdefault(n, r.ts_ns)
            if r.ts_ns - since >= self.for_ns and lc.needs(r.device, d.id, True):
                lc.signal(Signal(r.plant, r.device, d, True, r.ts_ns, r.village, ratio,
                                 f"string {n}: {amps:.2f} A, siblings' median "
                                 f"{siblings:.2f} A ({ratio:.0%})"))
            return
        pending.pop(n, None)
        if ratio >= self.s.clear_ratio and lc.needs(r.device, d.id, False):
            lc.signal(Signal(r.plant, r.device, d, False, r.ts_ns, r.village, ratio))


class PeerYieldDetector:
    """Per window, each inverter's energy per kWp against the median of its plant's."""

    def __init__(self, builtins: Builtins, settings: PeerYieldSettings,
                 plants: dict[str, PlantInfo], devices: dict[str, DeviceInfo]) -> None:
        self.defn = builtins.low_yield
        self.s = settings
        self.window_ns = int(settings.window_s * S)
        self.plants, self.devices = plants, devices
        self._last: dict[str, tuple[int, float]] = {}  # inverter -> (ts, e_total_kwh)
        self._mark: dict[str, tuple[int, float] | None] = {}  # at the last window's end
        self._boundary: int | None = None

    def observe(self, r: Reading) -> None:
        if r.kind == "inverter":
            q = r.quality  # r.good("e_total_kwh"), inlined: this runs per reading
            e = r.fields.get("e_total_kwh") if not q or q.get("e_total_kwh", GOOD) is GOOD \
                else None
            if e is not None:
                self._last[r.device] = (r.ts_ns, e)

    def _fresh(self, dev: str, at_ns: int) -> tuple[int, float] | None:
        last = self._last.get(dev)
        info = self.devices[dev]
        if last is None or at_ns - last[0] > 2 * info.interval_s * S + info.timeout_s * S:
            return None  # silent near the boundary: not judged (communication loss says it)
        return last

    def tick(self, now_ns: int, lc: Lifecycle) -> None:
        boundary = now_ns - now_ns % self.window_ns
        if self._boundary == boundary:
            return
        first = self._boundary is None
        self._boundary = boundary
        for plant in self.plants.values():
            yields: dict[str, float] = {}
            for inv in plant.inverters:
                if inv not in self.devices or self.devices[inv].kwp <= 0:
                    continue
                end, start = self._fresh(inv, boundary), self._mark.get(inv)
                self._mark[inv] = end
                if not first and end is not None and start is not None:
                    yields[inv] = (end[1] - start[1]) / self.devices[inv].kwp
            if len(yields) < self.s.min_peers:
                continue
            median = statistics.median(yields.values())
            if median < self.s.min_yield_kwh_kwp:
                continue
            for inv, y in yields.items():
                ratio = y / median
                if ratio < self.s.ratio and lc.needs(inv, self.defn.id, True):
                    lc.signal(Signal(plant.id, inv, self.defn, True, now_ns, plant.village,
                                     ratio, f"{y:.3f} kWh/kWp in the last "
                                            f"{self.s.window_s:.0f} s, peers' median "
                                            f"{median:.3f} ({ratio:.0%})"))
                elif ratio >= self.s.clear_ratio and lc.needs(inv, self.defn.id, False):
                    lc.signal(Signal(plant.id, inv, self.defn, False, now_ns, plant.village,
                                     ratio))
