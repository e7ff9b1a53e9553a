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

Speed matters: the sink encodes every reading on the collector's one event loop. A device's
readings keep their shape from poll to poll (the same fields, the same fields not implemented,
a status, fault registers), so each shape gets a line writer compiled once (see
``_compile_writer``): the quality strings are literal in it, the float, status and fault texts
are cached, and what is left costs little more than a dictionary lookup per field. A reading
whose good fields hold a None, a NaN or an infinity takes the general path, which produces the
same text.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Callable, Iterable, Mapping
from itertools import chain
from typing import Any, TypeVar

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
_V = TypeVar("_V")

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
    """The ``/write`` body: one line each, each ending in a newline (one join, no copy after)."""
    return "\n".join(chain(lines, ("",))).encode()


# ---- Readings (the collector's hot path) -------------------------------------------------------
_prefixes: dict[tuple[str, str, str, str | None], str] = {}
_field_keys: dict[str, str] = {}
_unwritable: set[tuple[str, str, str, str | None]] = set()
_TAG_PLANT, _TAG_DEVICE, _TAG_VILLAGE = (tag_key(t) for t in (names.PLANT, names.DEVICE,
                                                             names.VILLAGE))


def _keep(cache: dict[Any, _V], key: Any, value: _V, limit: int = _CACHE_MAX) -> _V:
    """Remember ``value`` under ``key`` and return it; a full cache starts again empty (these
    run only when a lookup missed: a fleet's devices, fields and texts repeat)."""
    if len(cache) >= limit:
        cache.clear()
    cache[key] = value
    return value


def _prefix(r: Reading) -> str:
    """Measurement and tag set; cached because a fleet has few devices and many readings."""
    key = (r.kind, r.plant, r.device, r.village)
    prefix = _prefixes.get(key)
    if prefix is None:
        prefix = (f"{measurement(r.kind)},{_TAG_PLANT}={tag_value(r.plant)},"
                  f"{_TAG_DEVICE}={tag_value(r.device)}")
        if r.village:
            prefix += f",{_TAG_VILLAGE}={tag_value(r.village)}"
        _keep(_prefixes, key, prefix)
    return prefix


def _fkey(name: str) -> str:
    key = _field_keys.get(name)
    if key is None:
        key = _keep(_field_keys, name, field_key(name))
    return key


_STATUS, _FAULTS = field_key(names.STATUS), field_key(names.FAULTS)

# A device's readings keep one layout from poll to poll: (field names, quality items, has a
# status, has faults). Each layout gets a line writer, written out as Python source and compiled
# once (as decode_values.py does for a profile's points): it takes each good field's value by
# its name, checks with one sum that all are finite numbers, and joins the line with the field
# keys and the bad fields' quality texts as literals. Encoding a SUN2000 reading took 15-17 us
# with it against 20-21 us with one ``%`` format of a cached template (isolated). A layout is
# compiled when it is seen a second time (a few ms each): garbage that changes which fields are
# invalid at every poll takes the general path instead of compiling a writer per reading.
_Key = tuple[object, ...]  # (kind, plant, device, village) + the layout
_Layout = tuple[tuple[str, ...], tuple[tuple[str, Quality], ...], bool, bool]
_Writer = Callable[[Mapping[str, Any], str, str | None, tuple[int, ...] | None, int], str | None]
_device_writers: dict[_Key, tuple[_Writer, str]] = {}  # a device's layout -> writer, prefix
_writers: dict[_Layout, _Writer] = {}
_seen_once: dict[_Layout, None] = {}
_WRITERS_MAX = 4096
_strings: dict[str, str] = {}  # status text -> its string field value (few distinct ones)
_fault_texts: dict[tuple[int, ...], str] = {}


def _device_writer(key: _Key, r: Reading) -> tuple[_Writer, str] | None:
    """The device's writer and prefix, or None: take the general path this time."""
    layout: _Layout = key[4:]  # type: ignore[assignment]
    writer = _writers.get(layout)
    if writer is None:
        if layout not in _seen_once:
            _keep(_seen_once, layout, None, _WRITERS_MAX)
            return None
        made = _compile_writer(layout)
        if made is None:
            return None
        writer = _keep(_writers, layout, made, _WRITERS_MAX)
    return _keep(_device_writers, key, (writer, _prefix(r)))


def _compile_writer(layout: _Layout) -> _Writer | None:
    field_names, quality_items, has_status, has_faults = layout
    quality = {n: q for n, q in quality_items if q is not Quality.GOOD}
    good = [n for n in field_names if n not in quality]
    if not good:
        return None  # nothing to check or format: the general path is as quick
    src = ["def write(fields, prefix, status, faults, ts):"]
    src += [f"    v{i} = fields[{n!r}]" for i, n in enumerate(good)]
    # TypeError for a None (or anything not a number); NaN or an infinity: the general path
    src.append("    total = " + " + ".join(f"v{i}" for i in range(len(good))))
    src += ["    if total - total != 0:", "        return None"]
    pieces, sep, at = ["prefix"], " ", {n: i for i, n in enumerate(good)}
    for name in field_names:
        q = quality.get(name)
        if q is None:
            i = at[name]
            pieces += [repr(f"{sep}{_fkey(name)}="),
                       f"known(v{i}) or (float_text(v{i}) if v{i} else zeros[sign(1.0, v{i})])"]
        else:  # never a bad value under the field's name: a dashboard would graph it
            key_text = _fkey(names.QUALITY_PREFIX + name)
            pieces.append(repr(f"{sep}{key_text}={string_value(q.value)}"))
        sep = ","
    if has_status:
        pieces += [repr(f",{_STATUS}="), "status_text(status)"]
    if has_faults:
        pieces += [repr(f",{_FAULTS}="), "faults_text(faults)"]
    pieces += ["' '", "str(ts)"]
    src.append(f"    return ''.join(({', '.join(pieces)}))")
    namespace: dict[str, Any] = {"known": _float_texts.get, "float_text": _float_text,
                                 "zeros": _ZERO_TEXTS, "sign": math.copysign,
                                 "status_text": _status_text, "faults_text": _faults_text}
    exec(compile("\n".join(src) + "\n", "<line writer>", "exec"), namespace)
    writer: _Writer = namespace["write"]
    return writer


# float -> its repr. A float's repr costs about half a microsecond here and a SUN2000 reading
# has 53 of them, the largest part of encoding it; a fleet's values repeat a lot (voltages,
# currents, temperatures and frequencies at their registers' resolution), so most are found
# here. Zero is never kept: 0.0 and -0.0 are one key with two texts.
_float_texts: dict[float, str] = {}
_FLOAT_TEXTS_MAX = 1 << 16


# Zero is the commonest value of all (an inverter at night, an unused string, a quiet alarm
# word: 46 of a sleeping SUN2000's 53 fields) and cannot be kept above, so a writer takes its
# text by its sign from here instead of formatting it: a night reading took 33 us against 17 us
# by day before, and 22 us since (bench-like readings, isolated).
_ZERO_TEXTS = {1.0: "0.0", -1.0: "-0.0"}


def _float_text(v: float) -> str:
    text = repr(float(v))
    if v:
        _keep(_float_texts, v, text, _FLOAT_TEXTS_MAX)
    return text


def _status_text(status: str) -> str:
    text = _strings.get(status)
    if text is None:
        text = _keep(_strings, status, string_value(status))
    return text


def _faults_text(faults: tuple[int, ...]) -> str:
    # "" when none is active: last(faults) must show a fault clear
    text = _fault_texts.get(faults)
    if text is None:
        text = _keep(_fault_texts, faults, string_value(",".join(map(str, faults))))
    return text


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
    device_writers = _device_writers
    for r in readings:
        fields, quality = r.fields, r.quality
        try:
            if fields and not r.tags and not r.text:
                key = (r.kind, r.plant, r.device, r.village, tuple(fields),
                       tuple(quality.items()) if quality else (), r.status is not None,
                       r.faults is not None)
                found = device_writers.get(key) or _device_writer(key, r)
                if found is not None:
                    writer, prefix = found
                    try:
                        text = writer(fields, prefix, r.status, r.faults, r.ts_ns // div)
                    except TypeError:  # a None among the good fields
                        text = None
                    if text is not None:
                        append(text)
                        continue
            text = _general_line(r, div)
        except LineProtocolError as e:
            _unwritable_reading(r, e)
            continue
        if text is not None:
            append(text)
    return out


def reading_lines(readings: Iterable[Reading], precision: str = "ns") -> list[str]:
    """One line per storable reading, without newlines: ``body()`` joins them for a POST."""
    return _lines(readings, PRECISION_DIVISOR[precision])


def reading_to_line(r: Reading, precision: str = "ns") -> str | None:
    """One line, or None when the reading carries nothing InfluxDB can store."""
    lines = _lines((r,), PRECISION_DIVISOR[precision])
    return lines[0] if lines else None


def encode(readings: Iterable[Reading], precision: str = "ns") -> bytes:
    """The ``/write`` body for a batch: one line per storable reading, each ending in a newline."""
    return body(reading_lines(readings, precision))
