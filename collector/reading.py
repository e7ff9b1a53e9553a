"""The one canonical reading model that flows from every source to every sink.

Sources (Modbus, MQTT, the simulator) produce ``Reading``; sinks (InfluxDB, MQTT) consume it.
Field names carry their unit (``p_ac_w``, ``e_total_kwh``, ``t_internal_c``). A field whose value
is ``None`` was not delivered as a good number; its quality says why.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum


class Quality(StrEnum):
    GOOD = "good"
    INVALID = "invalid"  # read, but implausible: garbage, a counter dip, an impossible jump
    NOT_IMPLEMENTED = "not_implemented"  # the device answered with the "no value" sentinel


@dataclass(frozen=True, slots=True)
class Reading:
    kind: str  # "inverter" | "meter": also the InfluxDB measurement
    plant: str
    device: str
    ts_ns: int  # UTC, nanoseconds since the epoch
    fields: Mapping[str, float | None]
    quality: Mapping[str, Quality] = field(default_factory=dict)  # absent means GOOD
    status: str | None = None  # normalised operating state: running, standby, fault, ...
    # vendor fault / alarm codes active at this instant; () when the device's fault registers
    # were read and none is active, None when the device has none (so a cleared fault shows)
    faults: tuple[int, ...] | None = None
    village: str | None = None

    def quality_of(self, name: str) -> Quality:
        return self.quality.get(name, Quality.GOOD)

    def good(self, name: str) -> float | None:
        """The value if it is good, else None."""
        if self.quality_of(name) is not Quality.GOOD:
            return None
        return self.fields.get(name)
