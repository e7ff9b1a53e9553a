"""The one canonical reading model that flows from every source to every sink.

Sources (Modbus, MQTT, DL/T 645) produce ``Reading``; the pipeline's stages look at each one and
sinks (InfluxDB, MQTT) consume it. Field names carry their unit (``p_ac_w``, ``e_total_kwh``,
``t_internal_c``). A field whose value is ``None`` was not delivered as a good number; its
quality says why.

A reading also carries what the stages need to know about its fields, so that no stage reaches
back into the source that made it: which fields are energy counters (``counters``) and where an
unsigned counter rolls over (``wrap_at``, which depends on the scale factor the device used).
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType
from typing import Any, NamedTuple

EMPTY: Mapping[str, Any] = MappingProxyType({})  # a shared default: no allocation per reading


class Quality(StrEnum):
    GOOD = "good"
    INVALID = "invalid"  # read, but implausible: garbage, a counter dip, an impossible jump
    NOT_IMPLEMENTED = "not_implemented"  # the device answered with the "no value" sentinel


class Reading(NamedTuple):
    """One device's values at one instant. Immutable; a NamedTuple rather than a frozen
    dataclass because every poll makes one: a frozen dataclass's ``__init__`` sets each of its
    thirteen fields through ``object.__setattr__`` (3.7 us a reading here, against 0.8 us for
    the tuple). Change one with ``_replace``."""

    kind: str  # "inverter" | "meter": also the InfluxDB measurement
    plant: str
    device: str
    ts_ns: int  # UTC, nanoseconds since the epoch
    fields: Mapping[str, float | None]
    quality: Mapping[str, Quality] = EMPTY  # absent means GOOD
    status: str | None = None  # normalised operating state: running, standby, fault, ...
    # vendor fault / alarm codes active at this instant; () when the device's fault registers
    # were read and none is active, None when the device has none (so a cleared fault shows)
    faults: tuple[int, ...] | None = None
    village: str | None = None
    # field -> "lifetime" | "daily": the energy counters the counter guard checks
    counters: Mapping[str, str] = EMPTY
    wrap_at: Mapping[str, float] = EMPTY  # field -> its rollover
    # readings a stage makes (alarm transitions, KPIs) carry more than a device's: tags beside
    # plant/device/village (an alarm's id and severity) and string fields (its state, names)
    tags: Mapping[str, str] = EMPTY
    text: Mapping[str, str] = EMPTY

    def quality_of(self, name: str) -> Quality:
        return self.quality.get(name, Quality.GOOD)

    def good(self, name: str) -> float | None:
        """The value if it is good, else None."""
        if self.quality_of(name) is not Quality.GOOD:
            return None
        return self.fields.get(name)
