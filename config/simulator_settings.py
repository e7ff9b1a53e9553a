"""Settings of the simulator (`simulator:` in the config) and the faults it injects."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import ConfigDict, Field, field_validator, model_validator

from config.simulator_mqtt import SimMqttSettings
from config.strict import Id, Strict

MODBUS_EXCEPTIONS = {1, 2, 3, 4, 5, 6, 7, 8, 10, 11}
FaultKind = Literal["no_answer", "slow_answer", "exception", "fault_code", "counter_reset",
                    "string_loss", "stuck_value", "bad_checksum", "error_reply"]


class FaultSpec(Strict):
    """A fault the simulator injects into one device for a window of simulated time.

    ``from``/``until`` are instants (with a UTC offset) or seconds after the simulator start.
    """

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    device: Id
    kind: FaultKind
    from_: float | datetime = Field(
        0.0, alias="from",
        description="start: an instant with a UTC offset, or seconds after the simulator start",
    )
    until: float | datetime | None = Field(None, description="end (same forms); none: to the end")
    delay_s: float = Field(1.0, ge=0, le=600, description="slow_answer: real seconds")
    code: int | None = Field(None, ge=0, le=65535,
                             description="exception: Modbus code; fault_code: vendor code; "
                                         "error_reply: the DL/T 645 error byte")
    every: int = Field(1, ge=1, le=1000, description="exception: every n-th request only")
    field: str | None = Field(None, description="counter_reset/stuck_value: canonical field")
    value: float = Field(0.0, ge=0, description="counter_reset: what the counter reads")
    string: int = Field(1, ge=1, le=32, description="string_loss: PV string / MPPT number")
    loss: float = Field(0.3, gt=0, le=1, description="string_loss: fraction of output lost")

    @field_validator("from_", "until")
    @classmethod
    def _aware_instant(cls, v: float | datetime | None) -> float | datetime | None:
        if isinstance(v, datetime) and v.tzinfo is None:
            raise ValueError("an instant needs a UTC offset, e.g. 2020-06-21T12:00:00+08:00")
        return v

    @model_validator(mode="after")
    def _needs_code(self) -> FaultSpec:
        if self.kind == "error_reply" and self.code is None:
            raise ValueError("an error_reply fault needs code (the DL/T 645 error byte)")
        if self.kind in ("exception", "fault_code") and self.code is None:
            raise ValueError(f"a {self.kind} fault needs code")
        if self.kind == "exception" and self.code not in MODBUS_EXCEPTIONS:
            raise ValueError(f"code {self.code} is no Modbus exception code "
                             f"({', '.join(map(str, sorted(MODBUS_EXCEPTIONS)))})")
        if self.kind == "error_reply" and not 1 <= (self.code or 0) <= 0x7F:
            raise ValueError(f"code {self.code} is no DL/T 645 error byte (1-127: bit 0 other "
                             "error, 1 no requested data, 2 unauthorised, ...)")
        if self.kind == "stuck_value" and self.field is None:
            raise ValueError("a stuck_value fault needs field (e.g. p_ac_w)")
        return self


class MeterTransformers(Strict):
    """Instrument transformers in front of a simulated meter: "400/5" A is a CT ratio of 80."""

    ct: str = Field("5/5", pattern=r"^\d+(\.\d+)?/\d+(\.\d+)?$",
                    description="current transformer, primary/secondary A (e.g. 400/5)")
    pt: str = Field("1/1", pattern=r"^\d+(\.\d+)?/\d+(\.\d+)?$",
                    description="voltage transformer, primary/secondary V (e.g. 10000/100)")

    @staticmethod
    def _ratio(text: str, what: str) -> float:
        primary, secondary = (float(x) for x in text.split("/"))
        if primary <= 0 or secondary <= 0:
            raise ValueError(f"{what} {text!r}: both sides must be above 0")
        return primary / secondary

    @model_validator(mode="after")
    def _positive(self) -> MeterTransformers:
        for text, what in ((self.ct, "ct"), (self.pt, "pt")):
            ratio = self._ratio(text, what)
            if not 0.1 <= ratio <= 9999:  # what the meters' ratio registers can hold
                raise ValueError(f"{what} {text!r}: ratio {ratio:g} is outside 0.1..9999")
        return self

    @property
    def ct_ratio(self) -> float:
        return self._ratio(self.ct, "ct")

    @property
    def pt_ratio(self) -> float:
        return self._ratio(self.pt, "pt")


class SimulatorSettings(Strict):
    seed: int = Field(
        1, description="seeds clouds and device variation: the same fleet on every run",
    )
    start: datetime | None = Field(
        None, description="simulated start instant with a UTC offset; default: now",
    )
    speed: float = Field(1.0, gt=0, le=100_000, description="simulated seconds per real second")
    cloudiness: float = Field(0.2, ge=0, le=1, description="0 clear sky .. 1 overcast")
    meter_loss: float = Field(0.015, ge=0, lt=0.5, description="cable/transformer loss")
    tick_s: float = Field(10.0, gt=0, le=3600, description="physics step in simulated seconds")
    # real Huawei/Sungrow inverters stop answering Modbus when their DC is gone
    inverters_sleep_at_night: bool = Field(
        False, description="inverters stop answering Modbus while they produce nothing",
    )
    modbus_server: Literal["pymodbus", "lean"] = Field(
        "pymodbus", description="pymodbus's server, or our lean one (a fraction of the CPU per "
                                "request, for big fleets; gateways with `serial` always use it)",
    )
    faults: list[FaultSpec] = Field(
        default_factory=list, description="faults to inject, see simulator.faults[]",
    )
    meter_transformers: dict[Id, MeterTransformers] = Field(
        default_factory=dict,
        description="meter id -> its CT/PT: the meter serves secondary-side values",
    )
    mqtt: SimMqttSettings = Field(
        default_factory=SimMqttSettings,
        description="plants that push over MQTT, and their uplink (see simulator.mqtt)")

    @field_validator("start")
    @classmethod
    def _aware(cls, v: datetime | None) -> datetime | None:
        if v is not None and v.tzinfo is None:
            raise ValueError("start needs a UTC offset, e.g. 2020-06-21T00:00:00+08:00")
        return v
