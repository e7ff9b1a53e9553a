"""Checked pieces of a payload: JSON, paths, numbers, timestamps, plausible ranges.

Each check raises ``BadInput`` with a short reason (the self-metrics count per reason) and a
detail that names the key or value. A value that is merely implausible (``absurd_value``) or
of the wrong type spoils only its field; the caller decides whether the message can still
make a reading.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from collector.errors import BadInput

NS = 1_000_000_000
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)
EPOCH_UNITS = {"epoch_s": NS, "epoch_ms": 1_000_000, "epoch_us": 1_000, "epoch_ns": 1}

# Magnitude no field with this unit suffix can reach on any plant (a sanity net behind the
# profile's own min/max): 10 GW, 10^12 kWh, 1 MV, 1 MA, 1 kHz, 1000 degrees C.
SUFFIX_LIMITS = (("_kwh", 1e12), ("_mwh", 1e9), ("_w", 1e10), ("_var", 1e10), ("_va", 1e10),
                 ("_v", 1e6), ("_a", 1e6), ("_hz", 1e3), ("_c", 1e3), ("_pct", 1e3))
DEFAULT_LIMIT = 1e15

Path = tuple[str | int, ...]


def _nan(_: str) -> float:
    return math.nan  # NaN/Infinity literals parse, then fail the value check


_decoder = json.JSONDecoder(parse_constant=_nan)


def parse_object(payload: bytes) -> dict[str, Any]:
    try:
        obj = _decoder.decode(payload.decode("utf-8"))
    except UnicodeDecodeError as e:
        raise BadInput("not_json", f"not UTF-8 ({e.reason} at byte {e.start})") from None
    except ValueError as e:
        raise BadInput("not_json", str(e)) from None
    if not isinstance(obj, dict):
        raise BadInput("not_object", f"a JSON {type(obj).__name__}, not an object")
    return obj


def compile_path(dotted: str) -> Path:
    """``data.strings.0.v`` -> ("data", "strings", 0, "v"): digits index lists."""
    return tuple(int(p) if p.isdigit() else p for p in dotted.split("."))


_MISSING = object()


def get(obj: Any, path: Path) -> Any:
    """The value at ``path``, or ``_MISSING``."""
    for key in path:
        if isinstance(obj, dict):
            obj = obj.get(key if isinstance(key, str) else str(key), _MISSING)
        elif isinstance(obj, list) and isinstance(key, int) and key < len(obj):
            obj = obj[key]
        else:
            return _MISSING
        if obj is _MISSING:
            return _MISSING
    return obj


def missing(value: Any) -> bool:
    return value is _MISSING


def number(value: Any, what: str) -> float:
    """A JSON number as a float (true/false and numeric strings are not numbers)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BadInput("wrong_type", f"{what} is {_show(value)}, not a number")
    return float(value)


def text(value: Any, what: str) -> str:
    if isinstance(value, str) and value:
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)  # a serial number sent as a number
    raise BadInput("wrong_type", f"{what} is {_show(value)}, not a non-empty string")


def limit_of(field: str, limits: Mapping[str, tuple[float | None, float | None]]
             ) -> tuple[float, float]:
    lo, hi = limits.get(field, (None, None))
    if lo is not None and hi is not None:
        return lo, hi
    bound = next((b for suffix, b in SUFFIX_LIMITS if field.endswith(suffix)), DEFAULT_LIMIT)
    return (-bound if lo is None else lo), (bound if hi is None else hi)


def check_value(field: str, value: float, bounds: tuple[float, float]) -> None:
    if not math.isfinite(value) or not bounds[0] <= value <= bounds[1]:
        raise BadInput("absurd_value", f"{field} = {value!r} is outside "
                                       f"[{bounds[0]:g}, {bounds[1]:g}]")


def parse_time(value: Any, fmt: str, zone: ZoneInfo | None, what: str) -> int:
    """UTC nanoseconds from an epoch number or an ISO 8601 string."""
    if fmt == "iso8601":
        if not isinstance(value, str):
            raise BadInput("wrong_type", f"{what} is {_show(value)}, not an ISO 8601 string")
        try:
            dt = datetime.fromisoformat(value)
        except ValueError:
            raise BadInput("bad_timestamp", f"{what} {value!r} is not ISO 8601") from None
        if dt.tzinfo is None:
            if zone is None:
                raise BadInput("bad_timestamp", f"{what} {value!r} has no UTC offset")
            dt = dt.replace(tzinfo=zone)
        return (dt - EPOCH) // MICROSECOND * 1000  # exact: no float on the way
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BadInput("wrong_type", f"{what} is {_show(value)}, not an epoch number")
    if isinstance(value, float) and not math.isfinite(value):
        raise BadInput("bad_timestamp", f"{what} is {value!r}")
    unit = EPOCH_UNITS[fmt]
    if abs(value) > 2**62 // unit:  # past year 2116 in any unit: no int64 nanoseconds
        raise BadInput("timestamp_out_of_range", f"{what} = {value!r} ({fmt})")
    return int(value) * unit if isinstance(value, int) else round(value * unit)


def check_time(ts_ns: int, now_ns: int, max_future_ns: int, max_age_ns: int) -> None:
    if ts_ns > now_ns + max_future_ns or ts_ns < now_ns - max_age_ns:
        try:
            when = datetime.fromtimestamp(ts_ns / NS, UTC).isoformat(timespec="seconds")
        except (ValueError, OverflowError, OSError):
            when = "out of the calendar"
        raise BadInput("timestamp_out_of_range",
                       f"timestamp {when} is {(ts_ns - now_ns) / NS / 86400:+.1f} days from "
                       f"our clock")


def _show(value: Any) -> str:
    if isinstance(value, dict | list):
        return f"a JSON {'object' if isinstance(value, dict) else 'array'} of {len(value)}"
    text = json.dumps(value) if not isinstance(value, float) else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
