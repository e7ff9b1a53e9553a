"""One value per topic -> one reading per device and timestamp window (``per-topic`` mappings).

    sunlog/VC-INV-01/0/power        {"v": 61234.5, "t": 1592712000250}
    sunlog/VC-INV-01/0/yield_total  {"v": 152301712.0, "t": 1592712000250}
        -> Reading(device vc-inv-01, ts = start of the 60 s window holding t, p_ac_w, e_total_kwh)

A window of a device is complete, and becomes a reading, when a value for a later window of
that device arrives, when nothing has arrived for it for one window length on the collector's
clock, or when the source stops. Its timestamp is the window's start, computed from the
payload's timestamps, so the same values make the same point whenever they arrive.

A value for a field its window already has (a QoS 1 redelivery, a logger sending twice) is a
duplicate and is dropped. One arriving for a window already emitted without that field makes
a second, partial reading with the same timestamp: InfluxDB merges the two into one point.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from collector.errors import BadInput
from collector.reading import EMPTY, Quality, Reading
from collector.sources.mqtt.decoders import Report, TimeBounds, checked_field, required
from collector.sources.mqtt.devices import MqttDevices, PushedDevice
from collector.sources.mqtt.values import (
    NS,
    check_time,
    compile_path,
    parse_object,
    parse_time,
)
from config.mappings import PerTopicMapping

EMITTED_KEPT = 16  # windows per device whose emitted fields are remembered, for duplicates


@dataclass(slots=True)
class _Window:
    device: PushedDevice
    start_ns: int
    arrived_ns: int  # collector clock, last value
    fields: dict[str, float | None] = field(default_factory=dict)
    quality: dict[str, Quality] = field(default_factory=dict)


class PerTopicAssembler:
    dedupe_by_ts = False  # duplicates are found per (window, field) here

    def __init__(self, mapping: PerTopicMapping, devices: MqttDevices, bounds: TimeBounds,
                 on_duplicate: Callable[[], None] = lambda: None) -> None:
        self.mapping = mapping
        self.devices = devices
        self.bounds = bounds
        self.on_duplicate = on_duplicate
        self.window_ns = int(mapping.window_s * NS)
        self.value_path = compile_path(mapping.value)
        self.ts_path = compile_path(mapping.timestamp.path)
        self.zone = ZoneInfo(mapping.timestamp.timezone) if mapping.timestamp.timezone else None
        self.levels = max(mapping.device, mapping.plant or 0, mapping.quantity_from) + 1
        self._open: dict[str, dict[int, _Window]] = {}  # device -> window start -> window
        self._emitted: dict[str, OrderedDict[int, set[str]]] = {}

    @property
    def open_windows(self) -> int:
        return sum(len(w) for w in self._open.values())

    def decode(self, topic: str, payload: bytes, now_ns: int, report: Report) -> list[Reading]:
        m = self.mapping
        levels = topic.split("/")
        if len(levels) < self.levels:
            raise BadInput("bad_topic", f"{len(levels)} levels; {m.name} needs at least "
                                        f"{self.levels}")
        spec = m.fields.get("/".join(levels[m.quantity_from:]))
        if spec is None:
            return []  # a quantity we do not store
        dev = self.devices.get(levels[m.device],
                               levels[m.plant] if m.plant is not None else None)
        obj = parse_object(payload)
        ts = parse_time(required(obj, m.timestamp.path, self.ts_path), m.timestamp.format,
                        self.zone, m.timestamp.path)
        check_time(ts, now_ns, self.bounds.max_future_ns, self.bounds.max_age_ns)
        value = checked_field(spec.field, required(obj, m.value, self.value_path), dev,
                              spec.scale, report)
        start = ts - ts % self.window_ns
        done = self._emitted.get(dev.id)
        windows = self._open.setdefault(dev.id, {})
        w = windows.get(start)
        if (done is not None and spec.field in done.get(start, ())) or \
                (w is not None and spec.field in w.fields):
            self.on_duplicate()
            return []
        if w is None:
            w = windows[start] = _Window(dev, start, now_ns)
        w.fields[spec.field] = value
        if value is None:
            w.quality[spec.field] = Quality.INVALID
        w.arrived_ns = now_ns
        newest = max(windows)
        if len(windows) == 1:
            return []
        return [self._close(dev.id, s) for s in sorted(windows) if s < newest]

    def flush(self, now_ns: int, force: bool = False) -> list[Reading]:
        """Windows nothing arrived for in a window's length (or all, with ``force``)."""
        out = []
        for dev_id in list(self._open):
            for start in sorted(self._open[dev_id]):
                w = self._open[dev_id][start]
                if force or now_ns - w.arrived_ns >= self.window_ns:
                    out.append(self._close(dev_id, start))
        return out

    def _close(self, dev_id: str, start: int) -> Reading:
        windows = self._open[dev_id]
        w = windows.pop(start)
        if not windows:
            del self._open[dev_id]
        done = self._emitted.setdefault(dev_id, OrderedDict())
        done.setdefault(start, set()).update(w.fields)
        done.move_to_end(start)
        while len(done) > EMITTED_KEPT:
            done.popitem(last=False)
        dev = w.device
        return Reading(kind=dev.kind, plant=dev.plant, device=dev.id, ts_ns=start,
                       fields=w.fields, quality=w.quality, village=dev.village,
                       counters=self.mapping.counters or dev.counters or EMPTY)
