"""Reading -> InfluxDB line protocol (the v1 ``/write`` body; 2.x and 3.x accept the same).

A line is ``<measurement>,<tags> <fields> <timestamp>``. Fields are floats written with
``repr`` (the shortest text that reads back as the same double); a field whose quality is not
good is written as ``q_<field>="<quality>"`` and never as a number; None, NaN and infinities
are left out; ``status`` and ``faults`` are string fields, and so is every entry of ``text``;
``tags`` are tags after plant, device and village; a reading with nothing left is dropped.

Speed matters: the sink encodes every reading on the collector's one event loop. Most readings
are all-good numbers without status or faults, so those take a fast path: one ``%`` format per
line from a template cached per (measurement, tags, field names), which costs little more than
the float ``repr`` calls themselves (about 150 ns per field, the floor in pure Python).
Everything else takes the general path, which produces the same text.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from collector.reading import Quality, Reading

PRECISION_DIVISOR = {"ns": 1, "u": 1_000, "ms": 1_000_000, "s": 1_000_000_000}

_TAG_ESCAPE = str.maketrans({",": r"\,", "=": r"\=", " ": r"\ "})
_MEAS_ESCAPE = str.maketrans({",": r"\,", " ": r"\ "})
_CACHE_MAX = 100_000  # entries per cache, whatever the tag churn


def _tag(value: str) -> str:
    return value.translate(_TAG_ESCAPE)


def _string_field(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


_prefixes: dict[tuple[str, str, str, str | None], str] = {}


def _prefix(r: Reading) -> str:
    """Measurement and tag set; cached because a fleet has few devices and many readings."""
    key = (r.kind, r.plant, r.device, r.village)
    prefix = _prefixes.get(key)
    if prefix is None:
        prefix = f"{r.kind.translate(_MEAS_ESCAPE)},plant={_tag(r.plant)},device={_tag(r.device)}"
        if r.village:
            prefix += f",village={_tag(r.village)}"
        if len(_prefixes) > _CACHE_MAX:
            _prefixes.clear()
        _prefixes[key] = prefix
    return prefix


# (kind, plant, device, village, *field names) -> "<prefix> f1=%r,...,fn=%r %s"
_templates: dict[tuple[str | None, ...], str] = {}


def _template(key: tuple[str | None, ...], r: Reading) -> str:
    prefix = _prefix(r).replace("%", "%%")
    fields = ",".join(f"{name}=%r" for name in (n.replace("%", "%%") for n in r.fields))
    if len(_templates) > _CACHE_MAX:
        _templates.clear()
    _templates[key] = template = f"{prefix} {fields} %s"
    return template


def _general_line(r: Reading, div: int) -> str | None:
    """Any reading: qualities, None and non-finite values, status, faults."""
    isfinite = math.isfinite
    if r.quality:
        parts: list[str] = []
        for name, value in r.fields.items():
            q = r.quality.get(name, Quality.GOOD)
            if q is not Quality.GOOD:
                # Never write a bad value under the field's name: a dashboard would graph it.
                parts.append(f"q_{name}={_string_field(q.value)}")
            elif value is not None and isfinite(value):
                parts.append(f"{name}={float(value)!r}")
    else:
        parts = [f"{name}={float(value)!r}" for name, value in r.fields.items()
                 if value is not None and isfinite(value)]
    if r.status is not None:
        parts.append(f"status={_string_field(r.status)}")
    if r.faults is not None:  # "" when none is active: last(faults) must show a fault clear
        parts.append(f"faults={_string_field(','.join(map(str, r.faults)))}")
    parts += [f"{name}={_string_field(value)}" for name, value in r.text.items()]
    if not parts:
        return None
    prefix = _prefix(r)
    if r.tags:  # sorted, as InfluxDB stores them; empty values are not tags
        prefix += "".join(f",{_tag(k)}={_tag(v)}" for k, v in sorted(r.tags.items()) if v)
    return f"{prefix} {','.join(parts)} {r.ts_ns // div}"


def _lines(readings: Iterable[Reading], div: int) -> list[str]:
    out: list[str] = []
    append = out.append
    templates = _templates
    for r in readings:
        fields = r.fields
        if fields and not r.quality and r.status is None and r.faults is None and \
                not r.tags and not r.text:
            values = fields.values()
            try:
                total = sum(values)  # TypeError for None (or anything not a number)
            except TypeError:
                total = math.nan
            if total - total == 0:  # no NaN or infinity among them: every field is written
                key = (r.kind, r.plant, r.device, r.village, *fields)
                template = templates.get(key) or _template(key, r)
                append(template % (*map(float, values), r.ts_ns // div))
                continue
        line = _general_line(r, div)
        if line is not None:
            append(line)
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
