"""The pvrelief configuration: site -> counties -> townships -> villages -> plants -> devices.

Village-level plants sit under their village; multi-village and centralised plants sit under
the county (or township) whose villages share them. Every model forbids unknown keys, so a typo
is an error that names the key and its line rather than a silently ignored setting.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from config.alarm_settings import AlarmSettings, KpiSettings
from config.dlt645_checks import model_problems as dlt645_problems
from config.dlt645_schema import Dlt645Gateway
from config.influx import InfluxSettings
from config.mqtt import MqttSettings
from config.serial_bus import SerialBus
from config.simulator_settings import FaultSpec, SimulatorSettings
from config.strict import EntryId, Host, Id, Strict
from config.web_settings import WebSettings

__all__ = ["FaultSpec", "SimulatorSettings"]  # re-exported: part of the config model

MAX_UNIT_ID = 247
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 502
# Validation context key: the loader checks ids and addresses across entries itself, on the raw
# YAML, so each problem names its own line; the model then skips its own (line-less) checks.
CROSS_CHECKED = "cross_checked"



class Named(Strict):
    id: EntryId
    name: str = Field("", description="display name (Chinese is fine)")


class DeviceSpec(Strict):
    """A device as listed under a gateway: its host and port are the gateway's."""

    id: EntryId
    protocol: Literal["modbus-tcp", "mqtt"] = Field(
        "modbus-tcp", description="modbus-tcp: polled; mqtt: its readings arrive over MQTT")
    unit_id: int = Field(1, ge=0, le=MAX_UNIT_ID, description="Modbus unit (slave) id")
    profile: str = Field(min_length=1, description="a profile name from config/profiles")
    poll_interval_s: float = Field(
        60.0, gt=0, le=86_400, description="seconds between polls (on the collector's clock)",
    )
    rated_kw_ac: float | None = Field(None, gt=0, description="default: plant AC / inverters")
    repeat: int = Field(1, ge=1, le=MAX_UNIT_ID,
                        description="expand into N devices id-01.. unit_id+i")
    night_mode: bool = Field(True, description="an inverter silent after sunset is sleeping")

    @model_validator(mode="after")
    def _repeat_stays_in_range(self) -> DeviceSpec:
        # checked here, on the entry, because the expanded copies are never validated again
        last = self.unit_id + self.repeat - 1
        if self.repeat > 1 and last > MAX_UNIT_ID:
            raise ValueError(f"repeat {self.repeat} from unit {self.unit_id} passes "
                             f"{MAX_UNIT_ID} (its last unit would be {last})")
        return self


class GatewayDevice(DeviceSpec):
    @model_validator(mode="before")
    @classmethod
    def _no_address(cls, data: object) -> object:
        if isinstance(data, dict) and ("host" in data or "port" in data):
            raise ValueError("a device under a gateway takes host and port from the gateway")
        if isinstance(data, dict) and data.get("protocol") == "mqtt":
            raise ValueError("a device under a gateway is polled over Modbus, not mqtt")
        return data


class Device(DeviceSpec):
    host: Host = Field(DEFAULT_HOST, description="hostname, IPv4 or IPv6 address of the device")
    port: int = Field(DEFAULT_PORT, ge=1, le=65535, description="Modbus TCP port")
    # set when the device was listed under a gateway; not a key a user writes
    _gateway: str | None = PrivateAttr(None)

    @model_validator(mode="before")
    @classmethod
    def _mqtt_has_no_address(cls, data: object) -> object:
        if isinstance(data, dict) and data.get("protocol") == "mqtt":
            given = [k for k in ("host", "port", "unit_id") if k in data]
            if given:
                raise ValueError(f"an mqtt device has no {', '.join(given)}: its readings "
                                 "arrive over MQTT (see mqtt.subscriptions)")
        return data

    @property
    def gateway(self) -> str | None:
        return self._gateway


class Gateway(Strict):
    """A Modbus TCP gateway (SmartLogger, Logger1000, an RS485 converter): many unit ids.

    Requests on its one connection are serialised. The pauses and ``close_after_cycle`` are
    the workarounds peer systems need for Huawei dongles and single-master devices.
    """

    id: EntryId
    host: Host = Field(DEFAULT_HOST, description="hostname, IPv4 or IPv6 address of the gateway")
    port: int = Field(DEFAULT_PORT, ge=1, le=65535, description="Modbus TCP port")
    timeout_s: float | None = Field(None, gt=0, le=60, description="default: collector.timeout_s")
    pause_after_connect_s: float = Field(
        0.0, ge=0, le=60, description="wait after connecting (Huawei SDongle needs about 1 s)",
    )
    pause_between_requests_s: float = Field(
        0.0, ge=0, le=10, description="wait between two requests on the connection",
    )
    close_after_cycle: bool = Field(False, description="reconnect for every device's poll")
    serial: SerialBus | None = Field(
        None, description="the RS485 bus behind it: polls are planned against its time")
    devices: list[GatewayDevice] = Field(
        min_length=1, description="the devices (unit ids) behind it",
    )

    def resolved(self) -> list[Device]:
        out = []
        for spec in _expand(self.devices):
            d = Device(**spec.model_dump(), host=self.host, port=self.port)
            d._gateway = self.id
            out.append(d)
        return out


def repeat_ids(device_id: str, unit_id: int, repeat: int) -> list[tuple[str, int]]:
    """The (id, unit id) pairs ``repeat: N`` expands into: id-01.., consecutive unit ids."""
    if repeat == 1:
        return [(device_id, unit_id)]
    width = max(2, len(str(repeat)))
    return [(f"{device_id}-{i + 1:0{width}d}", unit_id + i) for i in range(repeat)]


def _expand(devices: Sequence[DeviceSpec]) -> list[DeviceSpec]:
    """``repeat: N`` -> N devices id-01.., with consecutive unit ids."""
    expanded: list[DeviceSpec] = []
    for d in devices:
        if d.repeat == 1:
            expanded.append(d)
            continue
        for dev_id, unit in repeat_ids(d.id, d.unit_id, d.repeat):
            expanded.append(d.model_copy(update={"id": dev_id, "unit_id": unit, "repeat": 1}))
    return expanded


class Plant(Strict):
    id: EntryId
    name: str = Field("", description="display name (Chinese is fine)")
    kind: Literal["village", "multi-village", "centralised"] = Field(
        "village", description="village, multi-village or centralised",
    )
    capacity_kwp_dc: float = Field(gt=0, le=5_000_000, description="installed DC capacity, kWp")
    capacity_kw_ac: float = Field(gt=0, le=5_000_000, description="AC (inverter) capacity, kW")
    latitude: float = Field(ge=-90, le=90, description="degrees north")
    longitude: float = Field(ge=-180, le=180, description="degrees east")
    altitude_m: float = Field(0.0, ge=-500, le=9000, description="metres above sea level")
    commissioned: date | None = Field(
        None, description="first day of operation: bounds its lifetime counters (default "
                          "2014-01-01, the programme's start)",
    )
    timezone: str = Field(
        "Asia/Shanghai", description="IANA zone: local midnight for daily counters",
    )
    tilt_deg: float = Field(30.0, ge=0, le=90, description="module tilt (simulator physics)")
    azimuth_deg: float = Field(180.0, ge=0, lt=360, description="module azimuth, 180 = south")
    village: Id | None = Field(
        None, description="set by the loader for plants under a village; not written by hand",
    )
    devices: list[Device] = Field(
        default_factory=list, description="devices, each at its own host:port and unit id",
    )
    gateways: list[Gateway] = Field(
        default_factory=list,
        description="Modbus TCP gateways of this plant, each with many unit ids",
    )
    dlt645_gateways: list[Dlt645Gateway] = Field(
        default_factory=list,
        description="serial-to-TCP gateways with DL/T 645-2007 meters on their RS485 bus",
    )
    _all: list[Device] = PrivateAttr(default_factory=list)

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, tz: str) -> str:
        try:
            ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a 300-character name
            raise ValueError(f"unknown timezone {tz[:60]!r}") from None
        return tz

    @model_validator(mode="after")
    def _expand_repeats(self) -> Plant:
        self.devices = [d for d in _expand(list(self.devices)) if isinstance(d, Device)]
        self._resolve()
        return self

    def _resolve(self) -> None:
        self._all = list(self.devices) + [d for g in self.gateways for d in g.resolved()]

    def all_devices(self) -> list[Device]:
        """Devices listed directly and under gateways; use this, not ``devices``."""
        return self._all

    def move_endpoints(self, new: dict[tuple[str, int], tuple[str, int]]) -> None:
        """Move devices and gateways from each (host, port) in ``new`` to its new address.

        For the demo and tests, which serve and poll a config on free ports; the devices a
        gateway lists take its new address with it.
        """
        for d in self.devices:
            d.host, d.port = new.get((d.host, d.port), (d.host, d.port))
        for g in self.gateways:
            g.host, g.port = new.get((g.host, g.port), (g.host, g.port))
        for s in self.dlt645_gateways:
            s.host, s.port = new.get((s.host, s.port), (s.host, s.port))
        self._resolve()


class Village(Named):
    plants: list[Plant] = Field(default_factory=list)


class Township(Named):
    villages: list[Village] = Field(default_factory=list)
    plants: list[Plant] = Field(default_factory=list)


class County(Named):
    townships: list[Township] = Field(default_factory=list)
    plants: list[Plant] = Field(default_factory=list)


class Site(Named):
    id: EntryId = "site"


class CollectorSettings(Strict):
    timeout_s: float = Field(2.0, gt=0, le=60, description="one Modbus request")
    jitter_s: float = Field(0.0, ge=0, le=60, description="random start offset per device")
    max_hole: int = Field(50, ge=0, le=125, description="registers read through to merge reads")
    max_backoff_s: float = Field(
        300.0, gt=0, le=3600, description="a failing device is retried at most this far apart",
    )
    # night mode: an inverter that stops answering while the sun is below this elevation is
    # sleeping (DC gone), not failed; it is polled every night_poll_factor intervals
    night_elevation_deg: float = Field(
        3.0, ge=-18, le=20,
        description="sun elevation below which a silent inverter is asleep, not failed",
    )
    night_poll_factor: int = Field(
        10, ge=1, le=1000, description="an asleep inverter is polled every this many intervals",
    )
    batch_window_s: float = Field(
        0.25, ge=0, le=1,
        description="polled readings are gathered this long, then put through the stages and "
                    "sinks together (at most a quarter of the shortest poll interval); 0: one "
                    "by one",
    )
    shard: str | None = Field(
        None, pattern=r"^[1-9][0-9]*/[1-9][0-9]*$",
        description="i/n: carry only shard i of n (plants split by a stable hash of their "
                    "id, each plant whole); default: every plant",
    )

    @field_validator("shard")
    @classmethod
    def _shard_in_range(cls, v: str | None) -> str | None:
        if v is not None:
            i, n = map(int, v.split("/"))
            if i > n:
                raise ValueError(f"shard {v}: i must be 1..{n}")
        return v


class Config(Strict):
    # the outermost model decides whether errors quote their input: never, it may be a secret
    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)

    site: Site = Field(default_factory=Site)
    influxdb: InfluxSettings = Field(default_factory=InfluxSettings)
    mqtt: MqttSettings = Field(default_factory=MqttSettings)
    collector: CollectorSettings = Field(default_factory=CollectorSettings)
    simulator: SimulatorSettings = Field(default_factory=SimulatorSettings)
    state_dir: Path | None = Field(
        None, description="alarm state (SQLite, 0700); default: state/ beside the spool folder")
    alarms: AlarmSettings = Field(default_factory=AlarmSettings)
    kpi: KpiSettings = Field(default_factory=KpiSettings)
    web: WebSettings = Field(default_factory=WebSettings)
    counties: list[County] = Field(default_factory=list)

    @property
    def state_path(self) -> Path:
        """The state folder: ``state_dir``, or ``state`` beside ``influxdb.spool_dir``."""
        return self.state_dir or self.influxdb.spool_dir.parent / "state"

    def plants(self) -> list[Plant]:
        out: list[Plant] = []
        for c in self.counties:
            out += c.plants
            for t in c.townships:
                out += t.plants
                for v in t.villages:
                    out += v.plants
        return out

    def devices(self, protocol: str | None = None) -> list[tuple[Plant, Device]]:
        """Every device (of one ``protocol`` if given) with its plant."""
        return [(p, d) for p in self.plants() for d in p.all_devices()
                if protocol is None or d.protocol == protocol]

    def gateways(self) -> list[tuple[Plant, Gateway]]:
        return [(p, g) for p in self.plants() for g in p.gateways]

    def endpoints(self) -> list[tuple[str, int]]:
        """Every distinct host:port that devices or gateways sit at, in config order."""
        return list(dict.fromkeys([*((d.host, d.port) for _, d in self.devices("modbus-tcp")),
                                   *((g.host, g.port) for p in self.plants()
                                     for g in p.dlt645_gateways)]))

    def move_endpoints(self, new: dict[tuple[str, int], tuple[str, int]]) -> None:
        """Move every device and gateway at a (host, port) in ``new`` to its new address."""
        for p in self.plants():
            p.move_endpoints(new)

    @model_validator(mode="after")
    def _tag_villages_and_check_ids(self, info: ValidationInfo) -> Config:
        for c in self.counties:
            for t in c.townships:
                for v in t.villages:
                    for p in v.plants:
                        p.village = v.id
        if not (info.context or {}).get(CROSS_CHECKED):
            problems = self.cross_problems()
            if problems:
                raise ValueError("; ".join(problems))
        return self

    def cross_problems(self) -> list[str]:
        """Problems that span entries (ids, addresses, gateways, fault targets), every one.

        A safety net for configs built in Python: ``config.loader`` runs the same checks on
        the YAML, where each message can name the offending entry's line.
        """
        problems: list[str] = []
        seen_plants: set[str] = set()
        seen_devices: set[str] = set()
        seen_addr: dict[tuple[str, int, int], str] = {}
        for p in self.plants():
            if p.id in seen_plants:
                problems.append(f"plant id {p.id!r} is used twice")
            seen_plants.add(p.id)
            for d in p.all_devices():
                where = f" (plant {p.id}" + (f", gateway {d.gateway})" if d.gateway else ")")
                if d.id in seen_devices:
                    problems.append(f"device id {d.id!r} is used twice{where}")
                seen_devices.add(d.id)
                addr = (d.host, d.port, d.unit_id)
                if d.protocol == "mqtt":
                    continue  # no address: its readings are pushed
                if addr in seen_addr:
                    problems.append(
                        f"device {d.id!r}{where} has the same host:port/unit "
                        f"{d.host}:{d.port}/{d.unit_id} as {seen_addr[addr]!r}")
                else:
                    seen_addr[addr] = d.id
        problems += self._gateway_problems()
        meters = dlt645_problems(self, seen_devices, problems.append)
        for i, f in enumerate(self.simulator.faults):
            if f.device not in seen_devices | meters:
                problems.append(f"simulator.faults[{i}]: no device {f.device!r}")
        for i, m in enumerate(self.simulator.mqtt.plants):
            if m.plant not in seen_plants:
                problems.append(f"simulator.mqtt.plants[{i}]: no plant {m.plant!r}")
        if self.simulator.mqtt.uplink_port == self.mqtt.port:
            problems.append("simulator.mqtt.uplink_port is mqtt.port: the uplink would relay "
                            "to itself (mqtt.port is the broker the simulator relays to)")
        return problems

    def _gateway_problems(self) -> list[str]:
        """One gateway per host:port, and no device beside it there: its options would differ."""
        problems: list[str] = []
        at: dict[tuple[str, int], str] = {}
        ids: set[str] = set()
        for p, g in self.gateways():
            if g.id in ids:
                problems.append(f"gateway id {g.id!r} is used twice (plant {p.id})")
            ids.add(g.id)
            if (g.host, g.port) in at:
                problems.append(f"gateway {g.id!r} (plant {p.id}) has the same host:port "
                                f"{g.host}:{g.port} as gateway {at[(g.host, g.port)]!r}")
            else:
                at[(g.host, g.port)] = g.id
        for p, d in self.devices("modbus-tcp"):
            gw = at.get((d.host, d.port))
            if gw is not None and d.gateway is None:  # under another gateway: said above
                problems.append(f"device {d.id!r} (plant {p.id}) is at {d.host}:{d.port}, the "
                                f"address of gateway {gw!r}: list it under that gateway")
        return problems
