"""One message -> one reading: the ``pvrelief`` (edge) and ``json`` (logger) mappings.

A message that cannot make a reading (not JSON, no device, no timestamp, a device we do not
know) raises ``BadInput``. A field whose value is of the wrong type or absurd is reported to
``report`` and kept as ``None`` with quality ``invalid``: the rest of the reading stands.
Timestamps always come from the payload, never from the time of arrival, so a message that
arrives twice makes the same point twice rather than two points.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from collector.errors import BadInput
from collector.reading import EMPTY, Quality, Reading
from collector.sinks.mqtt_payload import SCHEMA
from collector.sources.mqtt.devices import MqttDevices, PushedDevice
from collector.sources.mqtt.values import (
    check_time,
    check_value,
    compile_path,
    get,
    limit_of,
    missing,
    number,
    parse_object,
    parse_time,
    text,
)
from config.mappings import FIELD_PATTERN, JsonMapping, Locator, PvreliefMapping

Report = Callable[[str, str], None]  # (reason, detail) of a value dropped from a reading
_FIELD = re.compile(FIELD_PATTERN)
_QUALITIES = {q.value: q for q in Quality}
COUNTER_KINDS = ("lifetime", "daily")
MAX_FAULT = 2**32


@dataclass(frozen=True, slots=True)
class TimeBounds:
    max_future_ns: int
    max_age_ns: int


def valid_name(name: object) -> bool:
    return isinstance(name, str) and len(name) <= 64 and _FIELD.match(name) is not None


class FieldBounds:
    """Each device's fields' plausible ranges, worked out once per (device, field name): the
    name is checked then too, so the per-message loop is a dict lookup and a comparison."""

    PER_DEVICE = 512  # names remembered per device: a stream of random names cannot grow it

    def __init__(self) -> None:
        self._by_device: dict[str, dict[str, tuple[float, float]]] = {}

    def table(self, dev: PushedDevice) -> dict[str, tuple[float, float]]:
        table = self._by_device.get(dev.id)
        if table is None:
            table = self._by_device[dev.id] = {}
        return table

    def add(self, table: dict[str, tuple[float, float]], dev: PushedDevice, name: object
            ) -> tuple[float, float] | None:
        """The range of a name not yet in ``table``; None if the name is no field name."""
        if not valid_name(name):
            return None
        assert isinstance(name, str)
        bounds = limit_of(name, dev.limits)
        if len(table) < self.PER_DEVICE:
            table[name] = bounds
        return bounds


def faults_of(value: Any, what: str) -> tuple[int, ...] | None:
    """A list of codes, or one code (0: none); None (absent) stays None."""
    if value is None:
        return None
    codes = value if isinstance(value, list) else [value]
    out = []
    for c in codes:
        if isinstance(c, bool) or not isinstance(c, int) or not 0 <= c < MAX_FAULT:
            raise BadInput("wrong_type", f"{what}: {c!r} is not a fault code")
        if c:
            out.append(c)
    return tuple(out)


def checked_field(name: str, value: Any, dev: PushedDevice, scale: float,
                  report: Report) -> float | None:
    try:
        v = number(value, name) * scale
        check_value(name, v, limit_of(name, dev.limits))
    except BadInput as e:
        report(e.reason, f"device {dev.id}: {e.detail}")
        return None
    return v


def counters_for(mapping: Mapping[str, str] | None, sent: Any, dev: PushedDevice
                 ) -> Mapping[str, str]:
    """The mapping's counters, else those the message carries, else the device profile's."""
    if mapping is not None:
        return mapping
    if isinstance(sent, dict) and sent and all(
            isinstance(k, str) and v in COUNTER_KINDS for k, v in sent.items()):
        return sent
    return dev.counters or EMPTY


class PvreliefDecoder:
    """The edge collector's own JSON: ``pvrelief.reading/1`` (``collector.sinks.mqtt_payload``)."""

    dedupe_by_ts = True  # one message is one whole reading

    def __init__(self, mapping: PvreliefMapping, devices: MqttDevices, bounds: TimeBounds) -> None:
        self.counters = mapping.counters
        self.devices = devices
        self.bounds = bounds
        self._ranges = FieldBounds()

    def decode(self, topic: str, payload: bytes, now_ns: int, report: Report) -> list[Reading]:
        obj = parse_object(payload)
        schema = obj.get("schema")
        if schema != SCHEMA:
            if schema is None:
                raise BadInput("missing_field", "no schema")
            raise BadInput("unknown_schema", f"schema {str(schema)[:40]!r}; this collector "
                                             f"reads {SCHEMA}")
        key = text(required(obj, "device"), "device")
        plant = obj.get("plant")
        dev = self.devices.get(key, None if plant is None else text(plant, "plant"))
        levels = topic.rsplit("/", 3)
        if len(levels) == 4 and levels[1:] != [dev.plant, key, "reading"]:
            raise BadInput("topic_mismatch", f"device {dev.id} of plant {dev.plant} arrived on "
                                             f"{topic[:120]!r}")
        ts = required(obj, "ts_ns")
        if isinstance(ts, bool) or not isinstance(ts, int):
            raise BadInput("wrong_type", f"ts_ns is {ts!r:.40}, not an integer")
        check_time(ts, now_ns, self.bounds.max_future_ns, self.bounds.max_age_ns)
        sent = required(obj, "fields")
        qualities = obj.get("quality") or {}
        if not isinstance(sent, dict) or not isinstance(qualities, dict):
            raise BadInput("wrong_type", "fields and quality must be objects")
        fields: dict[str, float | None] = {}
        quality: dict[str, Quality] = {}
        table = self._ranges.table(dev)
        for name, value in sent.items():
            lo_hi = table.get(name) or self._ranges.add(table, dev, name)
            if lo_hi is None:
                report("bad_field_name", f"device {dev.id}: field {str(name)[:64]!r}")
                continue
            kind = type(value)
            q = qualities.get(name) if qualities else None
            if q is None and (kind is float or kind is int) and lo_hi[0] <= value <= lo_hi[1]:
                fields[name] = value if kind is float else float(value)  # the common case
            elif value is not None and q in (None, "good"):
                v = checked_field(name, value, dev, 1.0, report)  # says what is wrong
                fields[name] = v
                if v is None:
                    quality[name] = Quality.INVALID
            else:  # not a good value: never stored under the field's name
                fields[name] = None
                given = _QUALITIES.get(q) if isinstance(q, str) else None
                quality[name] = Quality.INVALID if given in (None, Quality.GOOD) else given
        status = obj.get("status")
        if status is not None and not isinstance(status, str):
            report("wrong_type", f"device {dev.id}: status {status!r:.40}")
            status = None
        wrap_at = obj.get("wrap_at")
        wrap = {k: float(v) for k, v in wrap_at.items()
                if valid_name(k) and not isinstance(v, bool)
                and isinstance(v, int | float) and 0 < v < 1e18} \
            if isinstance(wrap_at, dict) else {}
        return [Reading(
            kind=dev.kind, plant=dev.plant, device=dev.id, ts_ns=ts, fields=fields,
            quality=quality, status=status[:64] if status else status,
            faults=faults_of(obj.get("faults"), f"device {dev.id}: faults"),
            village=dev.village,
            counters=counters_for(self.counters, obj.get("counters"), dev),
            wrap_at=wrap or EMPTY)]


class JsonDecoder:
    """A logger's JSON object per message, read through a ``json`` mapping."""

    dedupe_by_ts = True

    def __init__(self, mapping: JsonMapping, devices: MqttDevices, bounds: TimeBounds) -> None:
        self.mapping = mapping
        self.devices = devices
        self.bounds = bounds
        self.fields = [(name, compile_path(f.path), f.scale) for name, f in
                       mapping.fields.items()]
        self.ts_path = compile_path(mapping.timestamp.path)
        self.ts_format = mapping.timestamp.format
        self.zone = ZoneInfo(mapping.timestamp.timezone) if mapping.timestamp.timezone else None
        self.status_path = compile_path(mapping.status.path) if mapping.status else None
        self.status_values = mapping.status.values if mapping.status else {}
        self.faults_path = compile_path(mapping.faults) if mapping.faults else None

    def _locate(self, where: Locator, levels: list[str], obj: dict[str, Any], what: str) -> str:
        if where.topic is not None:
            if where.topic >= len(levels):
                raise BadInput("bad_topic", f"the topic has no level {where.topic} for the {what}")
            return levels[where.topic]
        return text(required(obj, where.path, compile_path(where.path)), what)

    def decode(self, topic: str, payload: bytes, now_ns: int, report: Report) -> list[Reading]:
        obj = parse_object(payload)
        m = self.mapping
        levels = topic.split("/")
        key = self._locate(m.device, levels, obj, "device")
        plant = self._locate(m.plant, levels, obj, "plant") if m.plant else None
        dev = self.devices.get(key, plant)
        ts = parse_time(required(obj, m.timestamp.path, self.ts_path), self.ts_format,
                        self.zone, m.timestamp.path)
        check_time(ts, now_ns, self.bounds.max_future_ns, self.bounds.max_age_ns)
        fields: dict[str, float | None] = {}
        quality: dict[str, Quality] = {}
        for name, path, scale in self.fields:
            value = get(obj, path)
            if missing(value) or value is None:
                continue  # a logger sends what its device has
            v = checked_field(name, value, dev, scale, report)
            fields[name] = v
            if v is None:
                quality[name] = Quality.INVALID
        status = None
        if self.status_path is not None:
            raw = get(obj, self.status_path)
            if not missing(raw) and raw is not None:
                status = self.status_values.get(str(raw), str(raw)[:64])
        faults = None
        if self.faults_path is not None:
            raw = get(obj, self.faults_path)
            faults = None if missing(raw) else faults_of(raw, f"device {dev.id}: faults")
        if not fields and status is None:
            raise BadInput("missing_field", f"device {dev.id}: none of the mapped fields "
                                            f"({', '.join(m.fields)}) is in the payload")
        return [Reading(
            kind=dev.kind, plant=dev.plant, device=dev.id, ts_ns=ts, fields=fields,
            quality=quality, status=status, faults=faults, village=dev.village,
            counters=counters_for(m.counters, None, dev))]


def required(obj: dict[str, Any], name: str, path: tuple[str | int, ...] | None = None) -> Any:
    value = get(obj, path) if path is not None else obj.get(name)
    if value is None or missing(value):
        raise BadInput("missing_field", f"no {name}")
    return value
