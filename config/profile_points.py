"""Register points: how one is written in a profile file, and the resolved record decoders use.

Kept apart from ``config.profiles`` (which lays points out into whole device profiles) so each
file stays small; ``config.profiles`` re-exports everything here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

TYPE_ALIASES = {
    "u16": "uint16", "s16": "int16", "u32": "uint32", "s32": "int32", "f32": "float32",
    "i16": "int16", "i32": "int32", "bitfield": "bitfield16", "enum": "enum16",
}
TYPE_WORDS = {
    "uint16": 1, "int16": 1, "sunssf": 1, "enum16": 1, "bitfield16": 1, "count": 1, "pad": 1,
    "uint32": 2, "int32": 2, "acc32": 2, "float32": 2, "bitfield32": 2, "enum32": 2,
    "uint64": 4, "int64": 4, "acc64": 4,
}
PointType = Literal[
    "uint16", "int16", "sunssf", "enum16", "bitfield16", "count", "pad", "uint32", "int32",
    "acc32", "float32", "bitfield32", "enum32", "uint64", "int64", "acc64", "string",
]
Role = Literal["value", "status", "faults", "ident"]
Table = Literal["holding", "input"]
_KEYED_BY_NUMBER = ("enum", "bits", "codes", "values")


def _number(key: object) -> object:
    if not isinstance(key, str):
        return key
    try:
        return int(key, 0)
    except ValueError:
        return int(key) if key.isdigit() else key  # "039" as a code list writes it; else let
                                                   # pydantic name the bad key


def _normalise(data: dict) -> dict:
    """Type aliases (u16 -> uint16), and hex keys as documents write codes (0x0200: running)."""
    data = dict(data)
    if isinstance(data.get("type"), str):
        data["type"] = TYPE_ALIASES.get(data["type"], data["type"])
    for key in _KEYED_BY_NUMBER:
        table = data.get(key)
        if isinstance(table, dict):
            data[key] = {_number(k): v for k, v in table.items()}
    return data


class PointSpec(BaseModel):
    """One register (or run of registers) as written in a profile file."""

    model_config = ConfigDict(extra="forbid")

    name: str
    type: PointType
    address: int | None = Field(None, ge=0, le=65535)  # vendor maps only, as the document writes it
    size: int | None = Field(None, ge=1, le=125)  # words; needed for strings
    table: Table = "holding"
    word_order: Literal["big", "little"] = "big"
    sf: str | None = None  # name of the scale-factor point (SunSpec style)
    scale: float = 1.0  # fixed multiplier (vendor "gain" inverted: 0.1 for gain 10)
    factor: float = 1.0  # unit conversion to the canonical field (Wh -> kWh: 0.001)
    units: str | None = None
    field: str | None = None  # canonical reading field; None: read only if needed
    role: Role = "value"
    counter: Literal["lifetime", "daily"] | None = None
    # this register's own "not implemented" pattern, overriding the family's; `none`: every
    # value is valid (a bitfield whose all-ones word means "every alarm")
    sentinel: Annotated[int, Field(ge=0)] | Literal["none"] | None = None
    # sign convention: the device counts the other way round from the canonical field (a
    # meter whose forward power is import, where our p_w is positive for export)
    invert: bool = False
    # plausibility, in the canonical field's unit: a value outside is INVALID, never stored
    # (a garbage word such as a night's -5 W read as unsigned must not pass as 4.29 GW)
    min: float | None = None
    max: float | None = None
    enum: dict[int, str] | None = None
    bits: dict[int, str] | None = None
    # role faults: bit -> vendor alarm id for a bitfield; a plain integer holds the code itself
    codes: dict[int, int] | None = None
    # multipliers read from the device: names of points whose values multiply this one (a
    # meter's CT and PT ratios: its registers hold secondary-side values)
    ratio: list[str] | None = None
    sim: float | str | None = None  # value the simulator serves (scale factors, constants, text)
    # a quantity the simulator serves here though the collector does not poll it (reactive
    # power, start-up time ...): simulator.devices names them; a canonical field also works
    sim_field: str | None = Field(None, pattern=r"^[a-z][a-z0-9_]*$")

    @model_validator(mode="before")
    @classmethod
    def _aliases(cls, data: dict) -> dict:
        return _normalise(data) if isinstance(data, dict) else data

    @model_validator(mode="after")
    def _sizes(self) -> PointSpec:
        if self.type == "string" and self.size is None:
            raise ValueError(f"point {self.name}: a string needs size (in registers)")
        if self.size is None:
            self.size = TYPE_WORDS[self.type]
        elif self.type != "string" and self.size != TYPE_WORDS[self.type]:
            raise ValueError(f"point {self.name}: a {self.type} is {TYPE_WORDS[self.type]} "
                             f"registers, not {self.size}")
        return self

    @model_validator(mode="after")
    def _decodable(self) -> PointSpec:
        """Reject at load time what the decoder could only fail on at poll time."""
        n = self.name
        if self.type == "string" and self.role != "ident":
            raise ValueError(f"point {n}: a string can only be read for identification "
                             "(role: ident); it cannot be a measured value, status or fault")
        if self.type == "float32" and self.role in ("faults", "status"):
            raise ValueError(f"point {n}: a float32 cannot be role {self.role} "
                             "(status and fault registers hold integer codes)")
        if self.role == "faults" and self.type.startswith("bitfield") and not self.codes:
            # a bare bit number (0-31) would collide with other vendors' fault codes
            raise ValueError(f"point {n}: a faults bitfield needs `codes:` (bit -> alarm id "
                             "in this vendor's catalog, config/profiles/alarms/)")
        if self.role == "faults" and self.type.startswith("bitfield") and self.codes:
            width = TYPE_WORDS[self.type] * 16
            missing = sorted(set(range(width)) - set(self.codes))
            if missing:
                raise ValueError(f"point {n}: `codes:` gives no alarm id for bit(s) "
                                 f"{', '.join(map(str, missing))} of the {width}")
        if isinstance(self.sentinel, int) and self.type in TYPE_WORDS and \
                self.sentinel >= 1 << (16 * TYPE_WORDS[self.type]):
            raise ValueError(f"point {n}: sentinel {self.sentinel:#x} does not fit a {self.type}"
                             " (write the register pattern, as the document prints it)")
        if self.scale < 0 or self.factor < 0:
            raise ValueError(f"point {n}: a negative scale or factor; write `invert: true` to "
                             "turn the device's sign convention round")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"point {n}: min {self.min:g} is above max {self.max:g}")
        return self


@dataclass(frozen=True, slots=True)
class Point:
    """A resolved register point: absolute (wire) address, width and how to decode it."""

    name: str  # unique within the device: "W", "160.2.DCV", "pv_1_voltage"
    address: int  # what goes on the wire (a document's 1-based address has been shifted)
    size: int
    type: str
    table: str = "holding"
    word_order: str = "big"
    sf: str | None = None  # resolved name of the scale-factor point
    scale: float = 1.0
    factor: float = 1.0
    units: str | None = None
    field: str | None = None
    role: str = "value"
    counter: str | None = None
    sentinel: int | str | None = None  # a pattern, or "none" (see PointSpec)
    enum: dict[int, str] | None = None
    bits: dict[int, str] | None = None
    codes: dict[int, int] | None = None
    sim: float | str | None = None
    min: float | None = None  # plausible range of the canonical value
    max: float | None = None
    invert: bool = False  # already folded into ``scale``; kept for `pvrelief plan` and docs
    ratio: tuple[str, ...] = ()  # points whose values multiply this one (CT/PT ratios)
    sim_field: str | None = None  # what the simulator serves here (the collector ignores it)

    @property
    def end(self) -> int:
        return self.address + self.size


def to_point(spec: PointSpec, name: str, address: int, sf: str | None,
             fieldname: str | None) -> Point:
    assert spec.size is not None
    # the sign is resolved here, once: decoder and simulator both see one signed scale
    scale = -spec.scale if spec.invert else spec.scale
    return Point(
        name=name, address=address, size=spec.size, type=spec.type, table=spec.table,
        word_order=spec.word_order, sf=sf, scale=scale, factor=spec.factor,
        units=spec.units, field=fieldname, role=spec.role, counter=spec.counter,
        sentinel=spec.sentinel, enum=spec.enum, bits=spec.bits, codes=spec.codes, sim=spec.sim,
        min=spec.min, max=spec.max, invert=spec.invert, ratio=tuple(spec.ratio or ()),
        sim_field=spec.sim_field,
    )


class AddressRange(BaseModel):
    """Registers a device refuses to read (a read touching them fails with exception 2)."""

    model_config = ConfigDict(extra="forbid")
    table: Table = "holding"
    start: int = Field(ge=0, le=65535)  # as the document writes it
    end: int = Field(ge=0, le=65535)  # inclusive, as documents write "5050-5070"
    why: str | None = None

    @model_validator(mode="after")
    def _ordered(self) -> AddressRange:
        if self.end < self.start:
            raise ValueError(f"end {self.end} is before start {self.start}")
        return self


class IdentifySpec(BaseModel):
    """How `pvrelief scan` recognises this profile: read one register and test its value."""

    model_config = ConfigDict(extra="forbid")
    table: Table = "holding"
    address: int = Field(ge=0, le=65535)  # as the document writes it
    type: PointType
    size: int | None = Field(None, ge=1, le=125)
    match: str | None = None  # regular expression a string must contain (case-insensitive)
    values: dict[int, str] | None = None  # accepted codes -> model name (Sungrow device types)
    range: tuple[float, float] | None = None  # accepted numeric range (a meter's frequency)
    label: str = "model"  # what the matched value is, for the scan table

    @model_validator(mode="before")
    @classmethod
    def _aliases(cls, data: dict) -> dict:
        return _normalise(data) if isinstance(data, dict) else data

    @model_validator(mode="after")
    def _one_test(self) -> IdentifySpec:
        if self.size is None:
            if self.type == "string":
                raise ValueError("a string needs size (in registers)")
            self.size = TYPE_WORDS[self.type]
        if self.match is None and self.values is None and self.range is None:
            raise ValueError("identify needs one of match, values or range")
        return self


@dataclass(frozen=True, slots=True)
class Identify:
    """IdentifySpec resolved to wire addresses."""

    table: str
    address: int
    type: str
    size: int
    match: str | None
    values: dict[int, str] | None
    range: tuple[float, float] | None
    label: str
