"""The devices whose readings arrive over MQTT: the config's ``protocol: mqtt`` devices.

A message names its device by a key (the edge's device id, a logger's serial number); the key
is matched against the config's ids without regard to case. The config gives what a message
need not carry: the plant and village, the kind (the InfluxDB measurement), the counter
fields the guard checks and the plausible range of each field (the profile's min/max).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from collector.errors import BadInput
from config.profiles import ProfileRegistry
from config.schema import Config


@dataclass(frozen=True, slots=True)
class PushedDevice:
    id: str
    plant: str
    village: str | None
    kind: str
    counters: Mapping[str, str]  # from the profile: field -> lifetime | daily
    limits: Mapping[str, tuple[float | None, float | None]]  # field -> profile min, max


class MqttDevices:
    def __init__(self, config: Config, registry: ProfileRegistry) -> None:
        self._by_key: dict[str, PushedDevice] = {}
        for plant, dev in config.devices("mqtt"):
            profile = registry[dev.profile]
            counters = {p.field: p.counter for p in profile.points
                        if p.field and p.counter and p.role == "value"}
            limits = {p.field: (p.min, p.max) for p in profile.points
                      if p.field and (p.min is not None or p.max is not None)}
            self._by_key[dev.id.lower()] = PushedDevice(
                dev.id, plant.id, plant.village, profile.kind, MappingProxyType(counters),
                MappingProxyType(limits))

    def __len__(self) -> int:
        return len(self._by_key)

    def get(self, key: str, plant: str | None = None) -> PushedDevice:
        """The device a message names; ``plant``, when the message gives one, must match."""
        dev = self._by_key.get(key.lower())
        if dev is None:
            raise BadInput("unknown_device",
                           f"no device {key[:80]!r} with protocol: mqtt in the config")
        if plant is not None and plant != dev.plant:
            raise BadInput("plant_mismatch",
                           f"device {dev.id} belongs to plant {dev.plant}, the message says "
                           f"{plant[:80]!r}")
        return dev
