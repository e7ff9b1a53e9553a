"""Device profiles (register maps) as YAML data, resolved into a flat list of points.

Two forms of profile exist:
- ``sunspec:``: a base address and a chain of SunSpec models; model definitions live in
  ``config/profiles/sunspec/model_<id>.yaml`` and addresses follow from point order and size.
  With ``discover: true`` the chain is read from the device at start-up instead
  (``collector.sources.modbus.discovery``);
- ``registers:``: a vendor map listing each register's address (Huawei, Sungrow, CHINT ...),
  written as the vendor's document writes it; ``address_offset`` turns that into the wire
  address (Sungrow documents 1-based addresses: offset -1).
Both resolve to the same ``Point`` records, which the collector decodes and the simulator serves.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from config.errors import ConfigError
from config.profile_points import (
    TYPE_ALIASES,
    TYPE_WORDS,
    AddressRange,
    Identify,
    IdentifySpec,
    Point,
    PointSpec,
    PointType,
    Role,
    to_point,
)
from config.sentinels import FAMILY_NAME, sentinel_table
from config.validation import format_errors
from config.yaml_loader import load_yaml

__all__ = [
    "PROFILE_DIR", "SUNSPEC_DIR", "TYPE_ALIASES", "TYPE_WORDS", "AddressRange", "Identify",
    "IdentifySpec", "Point", "PointSpec", "PointType", "Profile", "ProfileRegistry",
    "ProfileSpec", "Role", "SunSpecBlock", "SunSpecLayout", "SunSpecModelRef",
    "SunSpecModelSpec", "Unreadable", "load_profile", "load_registry", "resolve_sunspec",
    "sunspec_model",
]

PROFILE_DIR = Path(__file__).resolve().parent / "profiles"
SUNSPEC_DIR = PROFILE_DIR / "sunspec"
SUNS_MARKER = 0x53756E53  # "SunS"


class SunSpecModelRef(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: int = Field(ge=1, le=65534)
    repeats: int = Field(0, ge=0, le=64)  # instances of the repeating block
    # the length the device announces; needed for models we have no definition of (vendor
    # models 64xxx), which are then stepped over, and for devices whose model is shorter
    length: int | None = Field(None, ge=0, le=65534)


class SunSpecLayout(BaseModel):
    model_config = ConfigDict(extra="forbid")
    base: int = Field(40000, ge=0, le=65535)
    discover: bool = False  # read the model chain from the device at start-up
    models: list[SunSpecModelRef] = Field(default_factory=list)

    @model_validator(mode="after")
    def _models_or_discover(self) -> SunSpecLayout:
        if not self.models and not self.discover:
            raise ValueError("list the models, or set discover: true")
        return self


class ProfileSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_\-]*$")
    kind: Literal["inverter", "meter"]
    vendor: str
    document: str = Field(min_length=3, description="the vendor document and version followed")
    # public sources the map was checked against, beyond the document (client libraries,
    # third-party maps): what a reader can use to verify an address without the document
    checked_against: list[str] = Field(default_factory=list,
                                       description="public sources the map was checked against")
    # the family of "not implemented" values (config/profiles/sentinels/families.yaml)
    sentinels: str = Field("sunspec", pattern=FAMILY_NAME)
    rated_kw_ac: float | None = None
    # wire address = documented address + address_offset (Sungrow documents 5001 for wire 5000)
    address_offset: int = Field(0, ge=-1, le=1)
    max_registers: int = Field(125, ge=1, le=125, description="largest read the device accepts")
    # some devices answer function 04 on the holding registers' addresses too (the DTSU666)
    input_mirrors_holding: bool = Field(
        False, description="function 04 reads the same registers as function 03")
    # the simulator's model: how many of the pvN inputs (strings or MPPTs) it has; the rest
    # serve their "not implemented" value
    sim_pv_inputs: int | None = Field(None, ge=1, le=64,
                                      description="PV inputs of the model the simulator plays")
    # the longest run of unwanted registers one read may span; the smaller of this and
    # `collector.max_hole` wins (SUN2000 dongles fail on reads with long gaps)
    max_hole: int | None = Field(None, ge=0, le=125,
                                 description="largest gap read through (caps collector.max_hole)")
    unreadable: list[AddressRange] = Field(default_factory=list)
    identify: IdentifySpec | None = None
    sunspec: SunSpecLayout | None = None
    registers: list[PointSpec] | None = None

    @field_validator("sentinels")
    @classmethod
    def _known_family(cls, family: str) -> str:
        known = sentinel_table().families
        if family not in known:
            raise ValueError(f"no sentinel family {family!r} in {sentinel_table().path.name} "
                             f"(known: {', '.join(sorted(known))})")
        return family

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

    @model_validator(mode="after")
    def _lengths_add_up(self) -> SunSpecModelSpec:
        fixed = sum(p.size or 0 for p in self.points)
        if fixed != self.length:
            raise ValueError(f"model {self.id}: points add up to {fixed}, length is {self.length}")
        if self.repeating is not None:
            rep = sum(p.size or 0 for p in self.repeating.points)
            if rep != self.repeating.length:
                raise ValueError(f"model {self.id}: repeating points add up to {rep}, "
                                 f"length is {self.repeating.length}")
        return self


@dataclass(frozen=True, slots=True)
class SunSpecBlock:
    """A model as laid out on a device: its id, where its header sits and its length."""

    model_id: int
    address: int  # of the model id register
    length: int


@dataclass(frozen=True, slots=True)
class Unreadable:
    """Wire registers start..end-1 of ``table`` that the device refuses to read."""

    table: str
    start: int
    end: int  # exclusive


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
    address_offset: int = 0
    max_registers: int = 125
    max_hole: int | None = None  # None: collector.max_hole alone decides
    unreadable: tuple[Unreadable, ...] = ()
    identify: Identify | None = None
    sunspec_discover: bool = False  # the chain above is a default; the device's own wins
    checked_against: tuple[str, ...] = ()
    input_mirrors_holding: bool = False
    sim_pv_inputs: int | None = None
    by_name: dict[str, Point] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        self.by_name.update({p.name: p for p in self.points})

    @property
    def fields(self) -> list[str]:
        return [p.field for p in self.points if p.field and p.role == "value"]

    def hole_limit(self, collector_max_hole: int) -> int:
        """The gap a read may span for this profile, given the collector-wide setting."""
        if self.max_hole is None:
            return collector_max_hole
        return min(self.max_hole, collector_max_hole)

    def document_address(self, wire_address: int) -> int:
        """The address as the vendor's document writes it (what an operator looks up)."""
        return wire_address - self.address_offset


def _read_model(path: Path, model: type[BaseModel]) -> BaseModel:
    data, lines = load_yaml(path)
    try:
        return model.model_validate(data)
    except ValidationError as e:
        problems = format_errors(e, lines, str(path))
        raise ConfigError("\n".join(problems), problems) from None


_MODEL_CACHE: dict[int, SunSpecModelSpec] = {}


def sunspec_model(model_id: int) -> SunSpecModelSpec | None:
    """The definition of a SunSpec model, or None if we carry none for that id."""
    if model_id not in _MODEL_CACHE:
        path = SUNSPEC_DIR / f"model_{model_id}.yaml"
        if not path.is_file():
            return None
        spec = _read_model(path, SunSpecModelSpec)
        assert isinstance(spec, SunSpecModelSpec)
        if spec.id != model_id:
            raise ConfigError(f"{path}: says id {spec.id}, the file name says {model_id}")
        _MODEL_CACHE[model_id] = spec
    return _MODEL_CACHE[model_id]


def resolve_sunspec(layout: SunSpecLayout) -> tuple[list[Point], list[SunSpecBlock]]:
    """Lay the models out after the 'SunS' marker, as a device would, and name each point."""
    points: list[Point] = [
        Point(name="SunS", address=layout.base, size=2, type="uint32", sim=SUNS_MARKER)
    ]
    blocks: list[SunSpecBlock] = []
    addr = layout.base + 2
    seen: dict[int, int] = {}
    for ref in layout.models:
        m = sunspec_model(ref.id)
        if m is None and ref.length is None:
            raise ConfigError(f"no SunSpec model definition model_{ref.id}.yaml in {SUNSPEC_DIR}"
                              " (give its length to step over it)")
        # points are named "<model>.<point>"; a second instance of a model is "<model>#2.<point>"
        seen[ref.id] = seen.get(ref.id, 0) + 1
        prefix = f"{ref.id}." if seen[ref.id] == 1 else f"{ref.id}#{seen[ref.id]}."
        if m is None:
            length = ref.length or 0
        else:
            rep_len = m.repeating.length if m.repeating else 0
            length = ref.length if ref.length is not None else m.length + rep_len * ref.repeats
        blocks.append(SunSpecBlock(ref.id, addr, length))
        points.append(Point(name=f"{prefix}ID", address=addr, size=1, type="uint16", sim=ref.id))
        points.append(Point(name=f"{prefix}L", address=addr + 1, size=1, type="uint16",
                            sim=length))
        end = addr + 2 + length  # a device's model may be shorter than the definition
        off = addr + 2
        for p in m.points if m else []:
            pt = to_point(p, prefix + p.name, off, prefix + p.sf if p.sf else None, p.field)
            if p.type == "count":
                pt = replace(pt, sim=float(ref.repeats))
            if pt.end <= end:
                points.append(pt)
            off += p.size or 1
        for n in range(1, ref.repeats + 1):
            assert m is not None and m.repeating is not None
            for p in m.repeating.points:
                fieldname = p.field.format(n=n) if p.field else None
                pt = to_point(p, f"{prefix}{n}.{p.name}", off,
                              prefix + p.sf if p.sf else None, fieldname)
                if pt.end <= end:
                    points.append(pt)
                off += p.size or 1
        addr = end
    points.append(Point(name="end.ID", address=addr, size=1, type="uint16", sim=0xFFFF))
    points.append(Point(name="end.L", address=addr + 1, size=1, type="uint16", sim=0))
    return points, blocks


def _vendor_points(spec: ProfileSpec, path: Path) -> list[Point]:
    assert spec.registers is not None
    points = []
    for i, p in enumerate(spec.registers):
        if p.address is None:
            raise ConfigError(f"{path}: registers[{i}] ({p.name}): address is required")
        points.append(to_point(p, p.name, p.address + spec.address_offset, p.sf, p.field))
    return points


def _unreadable(spec: ProfileSpec) -> tuple[Unreadable, ...]:
    off = spec.address_offset
    return tuple(Unreadable(r.table, r.start + off, r.end + 1 + off) for r in spec.unreadable)


def _identify(spec: ProfileSpec) -> Identify | None:
    i = spec.identify
    if i is None:
        return None
    assert i.size is not None
    return Identify(i.table, i.address + spec.address_offset, i.type, i.size, i.match,
                    i.values, i.range, i.label)


def _check(points: list[Point], unreadable: tuple[Unreadable, ...], path: Path) -> None:
    names = [p.name for p in points]
    if len(set(names)) != len(names):
        dup = sorted({n for n in names if names.count(n) > 1})
        raise ConfigError(f"{path}: point names used twice: {', '.join(dup)}")
    known = set(names)
    for p in points:
        if p.sf and p.sf not in known:
            raise ConfigError(f"{path}: point {p.name}: scale factor {p.sf!r} is not a point")
        for r in p.ratio:
            if r not in known:
                raise ConfigError(f"{path}: point {p.name}: ratio {r!r} is not a point")
        for u in unreadable:
            if p.table == u.table and p.address < u.end and u.start < p.end:
                raise ConfigError(f"{path}: point {p.name} lies in an unreadable range")


def load_profile(path: Path) -> Profile:
    spec = _read_model(path, ProfileSpec)
    assert isinstance(spec, ProfileSpec)
    blocks: list[SunSpecBlock] = []
    if spec.sunspec is not None:
        if spec.sunspec.models:
            points, blocks = resolve_sunspec(spec.sunspec)
        else:  # nothing known before discovery but the marker
            points = [Point("SunS", spec.sunspec.base, 2, "uint32", sim=SUNS_MARKER)]
    else:
        points = _vendor_points(spec, path)
    unreadable = _unreadable(spec)
    _check(points, unreadable, path)
    return Profile(
        name=spec.name, kind=spec.kind, vendor=spec.vendor, document=spec.document,
        sentinels=spec.sentinels, points=tuple(points), source=path,
        rated_kw_ac=spec.rated_kw_ac,
        sunspec_base=spec.sunspec.base if spec.sunspec else None, sunspec_blocks=tuple(blocks),
        address_offset=spec.address_offset, max_registers=spec.max_registers,
        max_hole=spec.max_hole, unreadable=unreadable, identify=_identify(spec),
        sunspec_discover=bool(spec.sunspec and spec.sunspec.discover),
        checked_against=tuple(spec.checked_against),
        input_mirrors_holding=spec.input_mirrors_holding, sim_pv_inputs=spec.sim_pv_inputs,
    )


ProfileRegistry = dict[str, Profile]


_REGISTRY_CACHE: dict[tuple[tuple[str, int, int], ...], ProfileRegistry] = {}


def load_registry(*extra_dirs: Path) -> ProfileRegistry:
    """Every ``*.yaml`` profile in config/profiles (and extra folders), by name.

    Parsed once per process while the files stay as they are (same paths, sizes and
    modification times): the config loader, the collector and the simulator each ask for it,
    and parsing the YAML costs about a second, which a simulated clock at 600x turns into ten
    minutes. Profiles are frozen; each caller gets its own dict.
    """
    paths = [path for folder in (PROFILE_DIR, *extra_dirs)
             for path in sorted(Path(folder).glob("*.yaml"))]
    key = tuple((str(p), st.st_mtime_ns, st.st_size) for p in paths for st in [p.stat()])
    if key not in _REGISTRY_CACHE:
        _REGISTRY_CACHE.clear()  # one version of the files at a time: bounded memory
        _REGISTRY_CACHE[key] = _load_registry(paths)
    return dict(_REGISTRY_CACHE[key])


def _load_registry(paths: list[Path]) -> ProfileRegistry:
    registry: ProfileRegistry = {}
    for path in paths:
        prof = load_profile(path)
        if prof.name in registry:
            raise ConfigError(
                f"{path}: profile name {prof.name!r} is taken by {registry[prof.name].source}"
            )
        registry[prof.name] = prof
    return registry
