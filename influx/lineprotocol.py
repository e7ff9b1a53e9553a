"""Reading -> InfluxDB line protocol (the v1 ``/write`` body; 2.x and 3.x accept the same).

A line is ``<measurement>,<tags> <fields> <timestamp>``. Fields are floats written with
``repr`` (the shortest text that reads back as the same double); a field whose quality is not
good is written as ``q_<field>="<quality>"`` and never as a number; None, NaN and infinities
are left out; ``status`` and ``faults`` are string fields; a reading with nothing left is
dropped.

Speed matters: the sink encodes every reading on the collector's one event loop. A device's
readings keep their shape from poll to poll (the same fields, the same fields not implemented,
a status, fault registers), so each line is one ``%`` format from a template cached per
(measurement, tags, field names, qualities, status and faults present): the quality strings
are literal in it, the status and fault texts are cached, and what is left costs little more
than the float ``repr`` calls themselves (the floor in pure Python). A reading whose good fields
hold a None, a NaN or an infinity takes the general path, which produces the same text.
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


# (kind, plant, device, village, field names, quality items, has status, has faults) ->
# ("<prefix> f1=%r,q_f2=\"invalid\",...[,status=%s][,faults=%s] %s", the good field names)
_Key = tuple[object, ...]
_templates: dict[_Key, tuple[str, tuple[str, ...]]] = {}
_strings: dict[str, str] = {}  # status text -> its escaped string field (few distinct ones)
_fault_texts: dict[tuple[int, ...], str] = {}


def _template(key: _Key, r: Reading) -> tuple[str, tuple[str, ...]]:
    prefix = _prefix(r).replace("%", "%%")
    parts: list[str] = []
    good: list[str] = []
    for name in r.fields:
        q = r.quality.get(name, Quality.GOOD)
        safe = name.replace("%", "%%")
        if q is Quality.GOOD:
            parts.append(f"{safe}=%r")
            good.append(name)
        else:  # never a bad value under the field's name: a dashboard would graph it
            parts.append(f"q_{safe}={_string_field(q.value).replace('%', '%%')}")
    if r.status is not None:
        parts.append("status=%s")
    if r.faults is not None:
        parts.append("faults=%s")
    if len(_templates) > _CACHE_MAX:
        _templates.clear()
    entry = _templates[key] = (f"{prefix} {','.join(parts)} %s", tuple(good))
    return entry


def _status_text(status: str) -> str:
    text = _strings.get(status)
    if text is None:
        if len(_strings) > _CACHE_MAX:
            _strings.clear()
        text = _strings[status] = _string_field(status)
    return text


def _faults_text(faults: tuple[int, ...]) -> str:
    text = _fault_texts.get(faults)
    if text is None:
        if len(_fault_texts) > _CACHE_MAX:
            _fault_texts.clear()
        text = _fault_texts[faults] = _string_field(",".join(map(str, faults)))
    return text


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
    if not parts:
        return None
    return f"{_prefix(r)} {','.join(parts)} {r.ts_ns // div}"


def _lines(readings: Iterable[Reading], div: int) -> list[str]:
    out: list[str] = []
    append = out.append
    templates = _templates
    for r in readings:
        fields, quality = r.fields, r.quality
        if fields:
            key = (r.kind, r.plant, r.device, r.village, tuple(fields),
                   tuple(quality.items()) if quality else (), r.status is None,
                   r.faults is None)
            template, good = templates.get(key) or _template(key, r)
            values = [fields[name] for name in good]
            try:
                total = sum(values)  # TypeError for None (or anything not a number)
            except TypeError:
                total = math.nan
            if good and total - total == 0:  # no NaN or infinity: every good field is written
                args = [*map(float, values)]
                if r.status is not None:
                    args.append(_status_text(r.status))
                if r.faults is not None:
                    args.append(_faults_text(r.faults))
                args.append(r.ts_ns // div)
                append(template % tuple(args))
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
