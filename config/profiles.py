"""Device profiles (register maps) as YAML data, resolved into a flat list of points.

Two forms of profile exist:
- ``sunspec:``: a base address and a chain of SunSpec models; model definitions live in
  ``config/profiles/sunspec/model_<id>.yaml`` and addresses follow from point order and size;
- ``registers:``: a vendor map listing each register's address (Huawei, Sungrow, CHINT ...).
Both resolve to the same ``Point`` records, which the collector decodes and the simulator serves.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from config.errors import ConfigError
from config.validation import format_errors
from config.yamlpos import load_yaml_with_lines

PROFILE_DIR = Path(__file__).resolve().parent / "profiles"
SUNSPEC_DIR = PROFILE_DIR / "sunspec"

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


class PointSpec(BaseModel):
    """One register (or run of registers) as written in a profile file."""

    model_config = ConfigDict(extra="forbid")

    name: str
    type: PointType
    address: int | None = Field(None, ge=0, le=65535)  # vendor maps only
    size: int | None = Field(None, ge=1, le=125)  # words; needed for strings
    table: Literal["holding", "input"] = "holding"
    word_order: Literal["big", "little"] = "big"
    sf: str | None = None  # name of the scale-factor point (SunSpec style)
    scale: float = 1.0  # fixed multiplier (vendor "gain" inverted: 0.1 for gain 10)
    factor: float = 1.0  # unit conversion to the canonical field (Wh -> kWh: 0.001)
    units: str | None = None
    field: str | None = None  # canonical reading field; None: read only if needed
    role: Role = "value"
    counter: Literal["lifetime", "daily"] | None = None
    sentinel: int | None = None  # overrides the family's "not implemented" value
    enum: dict[int, str] | None = None
    bits: dict[int, str] | None = None
    codes: dict[int, int] | None = None  # bit -> vendor alarm/fault id, for role faults
    sim: float | None = None  # value the simulator serves (scale factors, constants)

    @model_validator(mode="before")
    @classmethod
    def _aliases(cls, data: dict) -> dict:
        if isinstance(data, dict) and isinstance(data.get("type"), str):
            data = {**data, "type": TYPE_ALIASES.get(data["type"], data["type"])}
        return data

    @model_validator(mode="after")
    def _sizes(self) -> PointSpec:
        if self.type == "string" and self.size is None:
            raise ValueError("a string needs size (in registers)")
        if self.size is None:
            self.size = TYPE_WORDS[self.type]
        return self


class SunSpecModelRef(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: int = Field(ge=1, le=65534)
    repeats: int = Field(0, ge=0, le=64)  # instances of the repeating block


class SunSpecLayout(BaseModel):
    model_config = ConfigDict(extra="forbid")
    base: int = Field(40000, ge=0, le=65535)
    models: list[SunSpecModelRef] = Field(min_length=1)


class ProfileSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_\-]*$")
    kind: Literal["inverter", "meter"]
    vendor: str
    document: str = Field(min_length=3, description="the vendor document and version followed")
    sentinels: Literal["sunspec", "huawei", "none"] = "sunspec"
    rated_kw_ac: float | None = None
    sunspec: SunSpecLayout | None = None
    registers: list[PointSpec] | None = None

    @model_validator(mode="after")
    def _one_form(self) -> ProfileSpec:
        if (self.sunspec is None) == (self.registers is None):
            raise ValueError("a profile has exactly one of `sunspec:` or `registers:`")
        return self


class SunSpecModelSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    class Repeating(BaseModel):
        model_config = ConfigDict(extra="forbid")
        length: int
        points: list[PointSpec]

    id: int
    name: str
    length: int
    points: list[PointSpec]
    repeating: Repeating | None = None


@dataclass(frozen=True, slots=True)
class Point:
    """A resolved register point: absolute address, width and how to decode it."""

    name: str  # unique within the device: "W", "160.2.DCV", "pv_1_voltage"
    address: int
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
    sentinel: int | None = None
    enum: dict[int, str] | None = None
    bits: dict[int, str] | None = None
    codes: dict[int, int] | None = None
    sim: float | None = None


@dataclass(frozen=True, slots=True)
class SunSpecBlock:
    """A model as laid out on a device: its id, where its header sits and its length."""

    model_id: int
    address: int  # of the model id register
    length: int


@dataclass(frozen=True)
class Profile:
    name: str
    kind: str
    vendor: str
    document: str
    sentinels: str
    points: tuple[Point, ...]
    source: Path
    rated_kw_ac: float | None = None
    sunspec_base: int | None = None
    sunspec_blocks: tuple[SunSpecBlock, ...] = ()
    by_name: dict[str, Point] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        self.by_name.update({p.name: p for p in self.points})

    @property
    def fields(self) -> list[str]:
        return [p.field for p in self.points if p.field and p.role == "value"]


def _point(
    spec: PointSpec, name: str, address: int, sf: str | None, fieldname: str | None
) -> Point:
    assert spec.size is not None
    return Point(
        name=name, address=address, size=spec.size, type=spec.type, table=spec.table,
        word_order=spec.word_order, sf=sf, scale=spec.scale, factor=spec.factor,
        units=spec.units, field=fieldname, role=spec.role, counter=spec.counter,
        sentinel=spec.sentinel, enum=spec.enum, bits=spec.bits, codes=spec.codes, sim=spec.sim,
    )


def _read_model(path: Path, model: type[BaseModel]) -> BaseModel:
    data, lines = load_yaml_with_lines(path)
    try:
        return model.model_validate(data)
    except ValidationError as e:
        problems = format_errors(e, lines, str(path))
        raise ConfigError("\n".join(problems), problems) from None


_MODEL_CACHE: dict[int, SunSpecModelSpec] = {}


def sunspec_model(model_id: int) -> SunSpecModelSpec:
    if model_id not in _MODEL_CACHE:
        path = SUNSPEC_DIR / f"model_{model_id}.yaml"
        if not path.is_file():
            raise ConfigError(f"no SunSpec model definition {path.name} in {SUNSPEC_DIR}")
        spec = _read_model(path, SunSpecModelSpec)
        assert isinstance(spec, SunSpecModelSpec)
        _MODEL_CACHE[model_id] = spec
    return _MODEL_CACHE[model_id]


def _resolve_sunspec(layout: SunSpecLayout) -> tuple[list[Point], list[SunSpecBlock]]:
    """Lay the models out after the 'SunS' marker, as a device would, and name each point."""
    points: list[Point] = [
        Point(name="SunS", address=layout.base, size=2, type="uint32", sim=0x53756E53)
    ]
    blocks: list[SunSpecBlock] = []
    addr = layout.base + 2
    seen: dict[int, int] = {}
    for ref in layout.models:
        m = sunspec_model(ref.id)
        # points are named "<model>.<point>"; a second instance of a model is "<model>#2.<point>"
        seen[ref.id] = seen.get(ref.id, 0) + 1
        prefix = f"{ref.id}." if seen[ref.id] == 1 else f"{ref.id}#{seen[ref.id]}."
        rep_len = m.repeating.length if m.repeating else 0
        length = m.length + rep_len * ref.repeats
        blocks.append(SunSpecBlock(ref.id, addr, length))
        points.append(Point(name=f"{prefix}ID", address=addr, size=1, type="uint16", sim=ref.id))
        points.append(Point(name=f"{prefix}L", address=addr + 1, size=1, type="uint16",
                            sim=length))
        off = addr + 2
        for p in m.points:
            pt = _point(p, prefix + p.name, off, prefix + p.sf if p.sf else None, p.field)
            if p.type == "count":
                pt = replace(pt, sim=float(ref.repeats))
            points.append(pt)
            off += p.size or 1
        for n in range(1, ref.repeats + 1):
            assert m.repeating is not None
            for p in m.repeating.points:
                fieldname = p.field.format(n=n) if p.field else None
                points.append(_point(p, f"{prefix}{n}.{p.name}", off,
                                     prefix + p.sf if p.sf else None, fieldname))
                off += p.size or 1
        addr += 2 + length
    points.append(Point(name="end.ID", address=addr, size=1, type="uint16", sim=0xFFFF))
    points.append(Point(name="end.L", address=addr + 1, size=1, type="uint16", sim=0))
    return points, blocks


def load_profile(path: Path) -> Profile:
    spec = _read_model(path, ProfileSpec)
    assert isinstance(spec, ProfileSpec)
    blocks: list[SunSpecBlock] = []
    if spec.sunspec is not None:
        points, blocks = _resolve_sunspec(spec.sunspec)
    else:
        assert spec.registers is not None
        points = []
        for i, p in enumerate(spec.registers):
            if p.address is None:
                raise ConfigError(f"{path}: registers[{i}] ({p.name}): address is required")
            points.append(_point(p, p.name, p.address, p.sf, p.field))
    names = [p.name for p in points]
    if len(set(names)) != len(names):
        dup = sorted({n for n in names if names.count(n) > 1})
        raise ConfigError(f"{path}: point names used twice: {', '.join(dup)}")
    known = set(names)
    for p in points:
        if p.sf and p.sf not in known:
            raise ConfigError(f"{path}: point {p.name}: scale factor {p.sf!r} is not a point")
    return Profile(
        name=spec.name, kind=spec.kind, vendor=spec.vendor, document=spec.document,
        sentinels=spec.sentinels, points=tuple(points), source=path,
        rated_kw_ac=spec.rated_kw_ac,
        sunspec_base=spec.sunspec.base if spec.sunspec else None, sunspec_blocks=tuple(blocks),
    )


ProfileRegistry = dict[str, Profile]


def load_registry(*extra_dirs: Path) -> ProfileRegistry:
    """Every ``*.yaml`` profile in config/profiles (and extra folders), by name."""
    registry: ProfileRegistry = {}
    for folder in (PROFILE_DIR, *extra_dirs):
        for path in sorted(Path(folder).glob("*.yaml")):
            prof = load_profile(path)
            if prof.name in registry:
                raise ConfigError(
                    f"{path}: profile name {prof.name!r} is taken by {registry[prof.name].source}"
                )
            registry[prof.name] = prof
    return registry
