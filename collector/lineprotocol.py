"""Reading -> InfluxDB line protocol (the v1 ``/write`` body; 2.x and 3.x accept the same)."""

from __future__ import annotations

import math
from collections.abc import Iterable

from collector.reading import Quality, Reading

PRECISION_DIVISOR = {"ns": 1, "u": 1_000, "ms": 1_000_000, "s": 1_000_000_000}

_TAG_ESCAPE = str.maketrans({",": r"\,", "=": r"\=", " ": r"\ "})
_MEAS_ESCAPE = str.maketrans({",": r"\,", " ": r"\ "})


def _tag(value: str) -> str:
    return value.translate(_TAG_ESCAPE)


def _string_field(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def reading_to_line(r: Reading, precision: str = "ns") -> str | None:
    """One line, or None when the reading carries nothing InfluxDB can store."""
    tags = f"{r.kind.translate(_MEAS_ESCAPE)},plant={_tag(r.plant)},device={_tag(r.device)}"
    if r.village:
        tags += f",village={_tag(r.village)}"
    parts: list[str] = []
    for name, value in r.fields.items():
        q = r.quality.get(name, Quality.GOOD)
        if q is not Quality.GOOD:
            # Never write a bad value under the field's name: a dashboard would graph it.
            parts.append(f"q_{name}={_string_field(q.value)}")
        elif value is not None and math.isfinite(value):
            parts.append(f"{name}={float(value)!r}")
    if r.status is not None:
        parts.append(f"status={_string_field(r.status)}")
    if r.faults:
        parts.append(f"faults={_string_field(','.join(map(str, r.faults)))}")
    if not parts:
        return None
    return f"{tags} {','.join(parts)} {r.ts_ns // PRECISION_DIVISOR[precision]}"


def encode(readings: Iterable[Reading], precision: str = "ns") -> bytes:
    lines = [line for r in readings if (line := reading_to_line(r, precision)) is not None]
    return ("\n".join(lines) + "\n").encode() if lines else b""
