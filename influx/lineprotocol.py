r"""InfluxDB line protocol: every escape in one place, a generic line builder, and the collector's
Reading encoder (the v1 ``/write`` body; 2.x and 3.x accept the same).

A line is ``<measurement>[,<tag>=<value>...] <field>=<value>[,...] [<timestamp>]``.

Escaping, per the 1.x line protocol reference and checked against a real influxd 1.6:
- measurement: ``,`` and space are escaped with a backslash;
- tag keys, tag values, field keys: ``,``, ``=`` and space;
- string field values are double-quoted, with ``"`` and ``\`` escaped.

A backslash is never escaped outside string values. InfluxDB 1.x stores the tag value written
as ``a\\b`` with two backslashes (its parser unescapes only ``\,``, ``\=`` and ``\ ``), so
escaping a backslash, as the allocator's own escaper did, doubles it. 2.x reads ``\\`` as one
backslash where 1.x keeps two, and a trailing backslash escapes the separator after it: a name
or tag value with a backslash at its end or before ``\``, ``,``, ``=`` or a space cannot be
written so that every server stores it as given, and is refused (LineProtocolError), as are
empty names and values and line breaks. Ids from the config are a safe alphabet.

A Reading's ``text`` entries are string fields and its ``tags`` are tags after plant, device
and village (alarm transitions use both).

Speed matters: the sink encodes every reading on the collector's one event loop. Most readings
are all-good numbers without status or faults, so those take a fast path: one ``%`` format per
line from a template cached per (measurement, tags, field names), which costs little more than
the float ``repr`` calls themselves (about 150 ns per field, the floor in pure Python).
Everything else takes the general path, which produces the same text.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Iterable, Mapping

from collector.reading import Quality, Reading
from influx import names
from influx.errors import LineProtocolError

log = logging.getLogger(__name__)

PRECISION_DIVISOR = {"ns": 1, "u": 1_000, "ms": 1_000_000, "s": 1_000_000_000}
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1  # InfluxDB integers are int64

_KEY_ESCAPE = str.maketrans({",": r"\,", "=": r"\=", " ": r"\ "})  # tag keys/values, field keys
_MEAS_ESCAPE = str.maketrans({",": r"\,", " ": r"\ "})
# a backslash that would escape what follows it (or the separator after the text)
_AMBIGUOUS_BACKSLASH = re.compile(r"\\(?=[\\,= ]|$)")
_CACHE_MAX = 100_000  # entries per cache, whatever the tag churn

FieldValue = float | int | bool | str


def _checked(text: str, what: str) -> str:
    if not text:
        raise LineProtocolError(f"{what} is empty")
    if "\n" in text or "\r" in text:
        raise LineProtocolError(f"{what} {text!r} contains a line break")
    if "\\" in text and _AMBIGUOUS_BACKSLASH.search(text):
        raise LineProtocolError(
            f"{what} {text!r} has a backslash at its end or before a backslash, comma, equals "
            f"sign or space: InfluxDB 1.x and 2.x would store it differently")
    return text


def measurement(name: str) -> str:
    return _checked(name, "measurement").translate(_MEAS_ESCAPE)


def tag_key(key: str) -> str:
    return _checked(key, "tag key").translate(_KEY_ESCAPE)


def tag_value(value: str) -> str:
    return _checked(value, "tag value").translate(_KEY_ESCAPE)


def field_key(key: str) -> str:
    return _checked(key, "field key").translate(_KEY_ESCAPE)


def string_value(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def field_value(value: FieldValue) -> str:
    """``1.5``, ``123i`` (an int64), ``true`` or ``"text"``; NaN and infinities are refused."""
    if isinstance(value, bool):  # before int: bool is an int
        return "true" if value else "false"
    if isinstance(value, int):
        if not INT64_MIN <= value <= INT64_MAX:
            raise LineProtocolError(f"integer {value} does not fit InfluxDB's int64")
        return f"{value}i"
    if isinstance(value, float):
        if not math.isfinite(value):
            raise LineProtocolError(f"{value!r} cannot be stored (not finite)")
        return repr(value)
    if isinstance(value, str):
        return string_value(value)
    raise LineProtocolError(f"field values are float, int, bool or str, not "
                            f"{type(value).__name__}")


def line(measurement_name: str, tags: Mapping[str, str], fields: Mapping[str, FieldValue],
         timestamp: int | None = None) -> str:
    """One point. Tags keep the given order; the timestamp is in the precision of the write."""
    if not fields:
        raise LineProtocolError(f"a {measurement_name} point needs at least one field")
    head = measurement(measurement_name)
    if tags:
        head += "," + ",".join(f"{tag_key(k)}={tag_value(v)}" for k, v in tags.items())
    body = ",".join(f"{field_key(k)}={field_value(v)}" for k, v in fields.items())
    return f"{head} {body}" if timestamp is None else f"{head} {body} {int(timestamp)}"


def body(lines: Iterable[str]) -> bytes:
    """The ``/write`` body: one line each, each ending in a newline."""
    text = "\n".join(lines)
    return (text + "\n").encode() if text else b""


# ---- Readings (the collector's hot path) -------------------------------------------------------
_prefixes: dict[tuple[str, str, str, str | None], str] = {}
_field_keys: dict[str, str] = {}
_unwritable: set[tuple[str, str, str, str | None]] = set()
_TAG_PLANT, _TAG_DEVICE, _TAG_VILLAGE = (tag_key(t) for t in (names.PLANT, names.DEVICE,
                                                             names.VILLAGE))


def _prefix(r: Reading) -> str:
    """Measurement and tag set; cached because a fleet has few devices and many readings."""
    key = (r.kind, r.plant, r.device, r.village)
    prefix = _prefixes.get(key)
    if prefix is None:
        prefix = (f"{measurement(r.kind)},{_TAG_PLANT}={tag_value(r.plant)},"
                  f"{_TAG_DEVICE}={tag_value(r.device)}")
        if r.village:
            prefix += f",{_TAG_VILLAGE}={tag_value(r.village)}"
        if len(_prefixes) > _CACHE_MAX:
            _prefixes.clear()
        _prefixes[key] = prefix
    return prefix


def _fkey(name: str) -> str:
    key = _field_keys.get(name)
    if key is None:
        key = field_key(name)
        if len(_field_keys) > _CACHE_MAX:
            _field_keys.clear()
        _field_keys[name] = key
    return key


_STATUS, _FAULTS = field_key(names.STATUS), field_key(names.FAULTS)

# (kind, plant, device, village, *field names) -> "<prefix> f1=%r,...,fn=%r %s"; with a status
# or faults (most inverter readings) the key has two flags after the village and the template
# two more %s: "... fn=%r,status=%s,faults=%s %s"
_templates: dict[tuple[str | bool | None, ...], str] = {}
_status_templates: dict[tuple[str | bool | None, ...], str] = {}


def _template(key: tuple[str | bool | None, ...], r: Reading, cache: dict[
        tuple[str | bool | None, ...], str]) -> str:
    prefix = _prefix(r).replace("%", "%%")
    fields = ",".join(f"{_fkey(name).replace('%', '%%')}=%r" for name in r.fields)
    if r.status is not None:
        fields += f",{_STATUS}=%s"
    if r.faults is not None:
        fields += f",{_FAULTS}=%s"
    if len(cache) > _CACHE_MAX:
        cache.clear()
    cache[key] = template = f"{prefix} {fields} %s"
    return template


def _general_line(r: Reading, div: int) -> str | None:
    """Any reading: qualities, None and non-finite values, status, faults; the fast paths in
    _lines give the same text for the readings they take."""
    isfinite = math.isfinite
    known = _field_keys.get  # escaped field keys; _fkey escapes and caches a new one
    if r.quality:
        parts: list[str] = []
        for name, value in r.fields.items():
            q = r.quality.get(name, Quality.GOOD)
            if q is not Quality.GOOD:
                # Never write a bad value under the field's name: a dashboard would graph it.
                parts.append(f"{_fkey(names.QUALITY_PREFIX + name)}={string_value(q.value)}")
            elif value is not None and isfinite(value):
                parts.append(f"{known(name) or _fkey(name)}={float(value)!r}")
    else:
        parts = [f"{known(name) or _fkey(name)}={float(value)!r}"
                 for name, value in r.fields.items() if value is not None and isfinite(value)]
    if r.status is not None:
        parts.append(f"{_STATUS}={string_value(r.status)}")
    if r.faults is not None:  # "" when none is active: last(faults) must show a fault clear
        parts.append(f"{_FAULTS}={string_value(','.join(map(str, r.faults)))}")
    parts += [f"{_fkey(name)}={string_value(value)}" for name, value in r.text.items()]
    if not parts:
        return None
    prefix = _prefix(r)
    if r.tags:  # sorted, as InfluxDB stores them; empty values are not tags
        prefix += "".join(f",{tag_key(k)}={tag_value(v)}" for k, v in sorted(r.tags.items())
                          if v)
    return f"{prefix} {','.join(parts)} {r.ts_ns // div}"


def _unwritable_reading(r: Reading, e: LineProtocolError) -> None:
    """Logged once per device: the config's id alphabet makes this a bug, not an operator's
    mistake, and one bad device must not stop the others' readings."""
    key = (r.kind, r.plant, r.device, r.village)
    if key not in _unwritable and len(_unwritable) < _CACHE_MAX:
        _unwritable.add(key)
        log.error("readings of plant %r device %r cannot be written to InfluxDB: %s",
                  r.plant, r.device, e)


def _lines(readings: Iterable[Reading], div: int) -> list[str]:
    out: list[str] = []
    append = out.append
    templates, status_templates = _templates, _status_templates
    for r in readings:
        fields = r.fields
        try:
            if fields and not r.quality and not r.tags and not r.text:
                values = fields.values()
                try:
                    total = sum(values)  # TypeError for None (or anything not a number)
                except TypeError:
                    total = math.nan
                if total - total == 0:  # no NaN or infinity among them: every field is written
                    status, faults = r.status, r.faults
                    if status is None and faults is None:
                        key = (r.kind, r.plant, r.device, r.village, *fields)
                        template = templates.get(key) or _template(key, r, templates)
                        append(template % (*map(float, values), r.ts_ns // div))
                        continue
                    key = (r.kind, r.plant, r.device, r.village, status is None,
                           faults is None, *fields)
                    template = status_templates.get(key) or _template(key, r, status_templates)
                    strings = [] if status is None else [string_value(status)]
                    if faults is not None:
                        strings.append(string_value(",".join(map(str, faults))))
                    append(template % (*map(float, values), *strings, r.ts_ns // div))
                    continue
            text = _general_line(r, div)
        except LineProtocolError as e:
            _unwritable_reading(r, e)
            continue
        if text is not None:
            append(text)
    return out


def reading_to_line(r: Reading, precision: str = "ns") -> str | None:
    """One line, or None when the reading carries nothing InfluxDB can store."""
    lines = _lines((r,), PRECISION_DIVISOR[precision])
    return lines[0] if lines else None


def encode(readings: Iterable[Reading], precision: str = "ns") -> bytes:
    """The ``/write`` body for a batch: one line per storable reading, each ending in a newline."""
    lines = _lines(readings, PRECISION_DIVISOR[precision])
    if not lines:
        return b""
    lines.append("")
    return "\n".join(lines).encode()
