"""The pvrelief configuration: site -> counties -> townships -> villages -> plants -> devices.

Village-level plants sit under their village; multi-village and centralised plants sit under
the county (or township) whose villages share them. Every model forbids unknown keys, so a typo
is an error that names the key and its line rather than a silently ignored setting.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from config.influx import InfluxSettings
from config.mqtt import MqttSettings

Id = str  # lowercase letters, digits, '-' and '_': safe as an InfluxDB tag and a file name
ID_PATTERN = r"^[a-z0-9][a-z0-9_\-]*$"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=False)


class Device(Strict):
    id: Id = Field(pattern=ID_PATTERN)
    protocol: Literal["modbus-tcp"] = "modbus-tcp"
    host: str = "127.0.0.1"
    port: int = Field(502, ge=1, le=65535)
    unit_id: int = Field(1, ge=0, le=247)
    profile: str = Field(min_length=1, description="a profile name from config/profiles")
    poll_interval_s: float = Field(60.0, gt=0, le=86_400)
    rated_kw_ac: float | None = Field(None, gt=0, description="default: plant AC / inverters")
    repeat: int = Field(1, ge=1, le=247, description="expand into N devices id-01.. unit_id+i")


class Plant(Strict):
    id: Id = Field(pattern=ID_PATTERN)
    name: str = ""
    kind: Literal["village", "multi-village", "centralised"] = "village"
    capacity_kwp_dc: float = Field(gt=0, le=5_000_000)
    capacity_kw_ac: float = Field(gt=0, le=5_000_000)
    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)
    altitude_m: float = Field(0.0, ge=-500, le=9000)
    timezone: str = "Asia/Shanghai"
    tilt_deg: float = Field(30.0, ge=0, le=90)
    azimuth_deg: float = Field(180.0, ge=0, lt=360)
    village: Id | None = None  # filled in for plants that sit under a village
    devices: list[Device] = Field(default_factory=list)

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, tz: str) -> str:
        try:
            ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError) as e:
            raise ValueError(f"unknown timezone {tz!r}") from e
        return tz

    @model_validator(mode="after")
    def _expand_repeats(self) -> Plant:
        expanded: list[Device] = []
        for d in self.devices:
            if d.repeat == 1:
                expanded.append(d)
                continue
            width = max(2, len(str(d.repeat)))
            for i in range(d.repeat):
                expanded.append(
                    d.model_copy(
                        update={"id": f"{d.id}-{i + 1:0{width}d}", "unit_id": d.unit_id + i,
                                "repeat": 1}
                    )
                )
        self.devices = expanded
        return self


class Village(Strict):
    id: Id = Field(pattern=ID_PATTERN)
    name: str = ""
    plants: list[Plant] = Field(default_factory=list)


class Township(Strict):
    id: Id = Field(pattern=ID_PATTERN)
    name: str = ""
    villages: list[Village] = Field(default_factory=list)
    plants: list[Plant] = Field(default_factory=list)


class County(Strict):
    id: Id = Field(pattern=ID_PATTERN)
    name: str = ""
    townships: list[Township] = Field(default_factory=list)
    plants: list[Plant] = Field(default_factory=list)


class Site(Strict):
    id: Id = Field("site", pattern=ID_PATTERN)
    name: str = ""


class CollectorSettings(Strict):
    timeout_s: float = Field(2.0, gt=0, le=60, description="one Modbus request")
    jitter_s: float = Field(0.0, ge=0, le=60, description="random start offset per device")
    max_hole: int = Field(50, ge=0, le=125, description="registers read through to merge reads")
    max_backoff_s: float = Field(300.0, gt=0, le=3600)


class SimulatorSettings(Strict):
    seed: int = 1
    start: datetime | None = None  # simulated start instant; default: now
    speed: float = Field(1.0, gt=0, le=100_000, description="simulated seconds per real second")
    cloudiness: float = Field(0.2, ge=0, le=1)
    meter_loss: float = Field(0.015, ge=0, lt=0.5, description="cable/transformer loss")
    tick_s: float = Field(10.0, gt=0, le=3600, description="physics step in simulated seconds")

    @field_validator("start")
    @classmethod
    def _aware(cls, v: datetime | None) -> datetime | None:
        if v is not None and v.tzinfo is None:
            raise ValueError("start needs a UTC offset, e.g. 2020-06-21T00:00:00+08:00")
        return v


class Config(Strict):
    site: Site = Field(default_factory=Site)
    influxdb: InfluxSettings = Field(default_factory=InfluxSettings)
    mqtt: MqttSettings = Field(default_factory=MqttSettings)
    collector: CollectorSettings = Field(default_factory=CollectorSettings)
    simulator: SimulatorSettings = Field(default_factory=SimulatorSettings)
    counties: list[County] = Field(default_factory=list)

    def plants(self) -> list[Plant]:
        out: list[Plant] = []
        for c in self.counties:
            out += c.plants
            for t in c.townships:
                out += t.plants
                for v in t.villages:
                    out += v.plants
        return out

    def devices(self) -> list[tuple[Plant, Device]]:
        return [(p, d) for p in self.plants() for d in p.devices]

    @model_validator(mode="after")
    def _tag_villages_and_check_ids(self) -> Config:
        for c in self.counties:
            for t in c.townships:
                for v in t.villages:
                    for p in v.plants:
                        p.village = v.id
        seen_plants: set[str] = set()
        seen_devices: set[str] = set()
        seen_addr: dict[tuple[str, int, int], str] = {}
        for p in self.plants():
            if p.id in seen_plants:
                raise ValueError(f"plant id {p.id!r} is used twice")
            seen_plants.add(p.id)
            for d in p.devices:
                if d.id in seen_devices:
                    raise ValueError(f"device id {d.id!r} is used twice (plant {p.id})")
                seen_devices.add(d.id)
                addr = (d.host, d.port, d.unit_id)
                if addr in seen_addr:
                    raise ValueError(
                        f"device {d.id!r} has the same host:port/unit "
                        f"{d.host}:{d.port}/{d.unit_id} as {seen_addr[addr]!r}"
                    )
                seen_addr[addr] = d.id
        return self
