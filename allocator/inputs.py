"""The allocation YAML: pydantic v2 models, exact decimals, errors naming plant, days and line.

A file of its own, or the ``allocation:`` key of the main config. See README "Revenue".
"""

from __future__ import annotations

import hashlib
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from allocator.errors import InputError
from allocator.model import (
    FRACTION_BASIS,
    DeductionRecord,
    Inputs,
    Plant,
    ShareRecord,
    TariffRecord,
    Village,
    shared_village_lists,
)
from config.errors import YamlError
from config.strict import ID_MAX_LENGTH, ID_PATTERN
from config.yaml_loader import line_of, parse_yaml, read_yaml_source

NonNeg = Annotated[Decimal, Field(ge=0)]
# the one id rule of plants, villages and devices (config.strict): ids become tags and files
Id = Annotated[str, Field(pattern=ID_PATTERN, max_length=ID_MAX_LENGTH)]


# Upper bounds, so that every integer stays far inside int64 in both engines (README "Revenue")
MAX_KWP = Decimal(4_000_000)  # 4 GW: a share basis in W stays below 2^32
MAX_TARIFF = Decimal(10)  # yuan/kWh, per part (and O&M per kWh)
MAX_OM_PER_KWP_YEAR = Decimal(10_000)  # yuan per kWp per year
MAX_YUAN_PER_YEAR = Decimal(10) ** 10  # land rent, insurance


def _units(value: Decimal, places: int, what: str, limit: Decimal | None = None,
           unit: str = "") -> int:
    """Decimal -> integer count of 10^-places; more decimals than that, or more than
    ``limit``, is an error."""
    if limit is not None and value > limit:
        raise ValueError(f"{what} {value} is above the limit of {limit}{unit}")
    if value and value.adjusted() + places >= 18:  # int64 later; 1e999999999 would hang here
        raise ValueError(f"{what} {value} is too large (it must be below 10^{18 - places})")
    scaled = value.scaleb(places)
    if scaled != scaled.to_integral_value() or (value and value.adjusted() < -places):
        raise ValueError(f"{what} {value} has more than {places} decimals")
    return int(scaled)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


class VillageSpec(_Model):
    id: Id
    name: str
    usage_split: dict[str, Annotated[int, Field(ge=0)]] | None = None


class TariffSpec(_Model):
    start: date = Field(alias="from")
    grid: NonNeg  # yuan/kWh, 4 decimals
    subsidy: NonNeg


class DeductionSpec(_Model):
    start: date = Field(alias="from")
    om_per_kwh: NonNeg = Decimal(0)  # yuan/kWh
    om_per_kwp_year: NonNeg = Decimal(0)  # yuan per kWp per year
    land_rent_per_year: NonNeg = Decimal(0)  # yuan
    insurance_per_year: NonNeg = Decimal(0)  # yuan
    reserve_percent: Annotated[Decimal, Field(ge=0, le=100)] = Decimal(0)  # of gross


class ShareSpec(_Model):
    start: date = Field(alias="from")
    kw: dict[str, NonNeg] | None = None  # village -> capacity in kW (3 decimals)
    fraction: dict[str, NonNeg] | None = None  # village -> fraction (6 decimals)

    @model_validator(mode="after")
    def _one_kind(self) -> ShareSpec:
        if (self.kw is None) == (self.fraction is None):
            raise ValueError(f"shares from {self.start}: give exactly one of `kw` or `fraction`")
        return self


class PlantSpec(_Model):
    id: Id
    name: str = ""
    kind: Literal["village", "multi-village", "centralised"]
    capacity_kwp: Annotated[Decimal, Field(gt=0)]
    shared_kwp: Annotated[Decimal, Field(gt=0)] | None = None  # the poverty portion
    meter: Id | None = None  # the settlement meter; needed only for energy from InfluxDB
    shares: list[ShareSpec] = Field(min_length=1)
    tariffs: list[TariffSpec] | None = None
    deductions: list[DeductionSpec] = []

    @model_validator(mode="after")
    def _dated_records(self) -> PlantSpec:
        for what, records in (("shares", self.shares), ("tariffs", self.tariffs or []),
                              ("deductions", self.deductions)):
            starts = [r.start for r in records]
            dup = sorted({d for d in starts if starts.count(d) > 1})
            if dup:
                raise ValueError(f"plant {self.id}: two {what} records start on "
                                 f"{', '.join(map(str, dup))}")
        kinds = {"kw" if s.kw is not None else "fraction" for s in self.shares}
        if len(kinds) > 1:
            raise ValueError(f"plant {self.id}: shares mix `kw` and `fraction`; use one kind")
        return self


class AllocationSpec(_Model):
    timezone: str = "Asia/Shanghai"
    usage_split: dict[str, Annotated[int, Field(ge=0)]] | None = None  # default for villages
    villages: list[VillageSpec] = Field(min_length=1)
    tariffs: list[TariffSpec] | None = None  # default for plants that list none
    plants: list[PlantSpec] = Field(min_length=1)

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, tz: str) -> str:
        try:
            ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            raise ValueError(f"timezone {tz!r} is not a known IANA time zone "
                             f"(e.g. Asia/Shanghai)") from None
        return tz


class _Located(ValueError):
    """A problem inside a plant, with the key path below the plant (for the YAML line)."""

    def __init__(self, where: tuple, msg: str) -> None:
        super().__init__(msg)
        self.where = where


def _days(start: date, nxt: date | None) -> str:
    return f"{start}..{nxt - timedelta(days=1)}" if nxt else f"{start} onward"


def _share_record(p: PlantSpec, ordered: list[ShareSpec], i: int, basis: int,
                  villages: dict[str, Village]) -> ShareRecord:
    s = ordered[i]
    nxt = ordered[i + 1].start if i + 1 < len(ordered) else None
    days = _days(s.start, nxt)
    try:
        return _check_share(p, s, days, basis, villages)
    except ValueError as e:
        raise _Located(("shares", p.shares.index(s)), str(e)) from e


def _check_share(p: PlantSpec, s: ShareSpec, days: str, basis: int,
                 villages: dict[str, Village]) -> ShareRecord:
    raw = s.kw if s.kw is not None else s.fraction
    assert raw is not None
    places, unit = (3, "kW") if s.kw is not None else (6, "")
    unknown = sorted(set(raw) - set(villages))
    if unknown:
        raise ValueError(f"plant {p.id}: shares on {days} name unknown village(s) "
                         f"{', '.join(unknown)}")
    # the village's own id object, not the mapping key's equal copy: Inputs.columns then finds
    # it in its rank table by identity, without comparing the text
    nums = tuple(sorted((villages[v].id, _units(x, places, f"share of {v}"))
                        for v, x in raw.items()))
    total = sum(n for _, n in nums)
    if total != basis:
        got = Decimal(total).scaleb(-places)
        want = Decimal(basis).scaleb(-places)
        pct = (Decimal(100) * total / basis).quantize(Decimal("0.01"))
        raise ValueError(f"plant {p.id}: shares on {days} cover {pct}% ({got}{unit} of "
                         f"{want}{unit}), not exactly 100%")
    if p.kind == "village" and sum(1 for _, n in nums if n) != 1:
        raise ValueError(f"plant {p.id}: a village plant pays exactly one village, but the "
                         f"shares on {days} pay {sum(1 for _, n in nums if n)}")
    return ShareRecord.of(s.start, nums)


def _tariff_records(specs: list[TariffSpec]) -> tuple[tuple[TariffRecord, ...],
                                                     list[tuple[tuple, str]]]:
    """The records, sorted by start, and the problems, located at each record (index in
    ``specs``)."""
    records, problems = [], []
    for i, t in enumerate(specs):
        try:
            records.append(TariffRecord(
                t.start, _units(t.grid, 4, "grid tariff", MAX_TARIFF, " yuan/kWh"),
                _units(t.subsidy, 4, "subsidy", MAX_TARIFF, " yuan/kWh")))
        except ValueError as e:
            problems.append(((i,), str(e)))
    return tuple(sorted(records, key=lambda r: r.start)), problems


def _deduction(d: DeductionSpec) -> DeductionRecord:
    return DeductionRecord(
        d.start, _units(d.om_per_kwh, 4, "om_per_kwh", MAX_TARIFF, " yuan/kWh"),
        _units(d.om_per_kwp_year, 4, "om_per_kwp_year", MAX_OM_PER_KWP_YEAR,
               " yuan per kWp-year"),
        _units(d.land_rent_per_year, 2, "land_rent_per_year", MAX_YUAN_PER_YEAR, " yuan"),
        _units(d.insurance_per_year, 2, "insurance_per_year", MAX_YUAN_PER_YEAR, " yuan"),
        _units(d.reserve_percent, 2, "reserve_percent"),
    )


def _plant(p: PlantSpec, default_tariffs: tuple[TariffRecord, ...] | None,
           villages: dict[str, Village]) -> Plant:
    """The plant, or _PlantProblems with every problem found in it (shares, tariffs,
    deductions and capacities are all checked, each at its own key)."""
    problems: list[tuple[tuple, str]] = []
    ordered = sorted(p.shares, key=lambda s: s.start)
    kw = p.shares[0].kw is not None
    shared = p.shared_kwp if p.shared_kwp is not None else p.capacity_kwp
    capacity = shared_w = basis = 0
    for key, value in (("capacity_kwp", p.capacity_kwp), ("shared_kwp", shared)):
        try:
            units = _units(value, 3, key, MAX_KWP, " kWp")
        except ValueError as e:
            problems.append(((key,), f"plant {p.id}: {e}"))
            continue
        if key == "capacity_kwp":
            capacity = units
        else:
            shared_w = units
    if capacity and shared_w > capacity:
        problems.append(((), f"plant {p.id}: shared_kwp {shared} exceeds capacity_kwp "
                             f"{p.capacity_kwp}"))
    basis = shared_w if kw else FRACTION_BASIS
    records = []
    if basis:
        for i in range(len(ordered)):
            try:
                records.append(_share_record(p, ordered, i, basis, villages))
            except _Located as e:
                problems.append((e.where, str(e)))
    if p.tariffs is not None:
        tariffs, bad = _tariff_records(p.tariffs)
        problems += [(("tariffs", *where), f"plant {p.id}: {msg}") for where, msg in bad]
    elif default_tariffs:
        tariffs = default_tariffs
    else:
        tariffs = ()
        if default_tariffs is None:
            problems.append(((), f"plant {p.id}: no tariffs (give `tariffs` on the plant or "
                                 f"top level)"))
    deductions = []
    for i, d in enumerate(p.deductions):
        try:
            deductions.append(_deduction(d))
        except ValueError as e:
            problems.append((("deductions", i), f"plant {p.id}: {e}"))
    if problems:
        raise _Problems(problems)
    return Plant(p.id, p.name or p.id, p.kind, capacity, p.meter or "", basis,
                 shared_village_lists(records), tariffs,
                 tuple(sorted(deductions, key=lambda d: d.start)), shared_w)


def _to_inputs(spec: AllocationSpec, sha: str) -> Inputs:
    errors: list[tuple[tuple, str]] = []
    villages: dict[str, Village] = {}
    for i, v in enumerate(spec.villages):
        if v.id in villages:
            errors.append((("villages", i, "id"), f"village {v.id} is listed twice"))
        split = v.usage_split if v.usage_split is not None else (spec.usage_split or {})
        if split and sum(split.values()) == 0:
            errors.append((("villages", i), f"village {v.id}: usage_split weights sum to 0"))
        villages[v.id] = Village(v.id, v.name, tuple(split.items()))
    # the default tariffs are checked once, at their own lines; a plant using broken ones
    # adds nothing to that (an empty tuple, not None, says "given but broken")
    default: tuple[TariffRecord, ...] | None = None
    if spec.tariffs is not None:
        default, bad = _tariff_records(spec.tariffs)
        errors += [(("tariffs", *where), msg) for where, msg in bad]
        if bad:
            default = ()
    plants: dict[str, Plant] = {}
    for i, p in enumerate(spec.plants):
        if p.id in plants:
            errors.append((("plants", i, "id"), f"plant {p.id} is listed twice"))
            continue
        try:
            plants[p.id] = _plant(p, default, villages)
        except _Problems as e:
            errors += [(("plants", i, *where), msg) for where, msg in e.problems]
    if errors:
        raise _Problems(errors)
    return Inputs(villages, plants, spec.timezone, sha)


def require_meters(inputs: Inputs) -> None:
    """Energy from InfluxDB is read per settlement meter: every plant must name its one."""
    missing = sorted(p for p, plant in inputs.plants.items() if not plant.meter)
    if missing:
        raise InputError(f"energy from InfluxDB needs each plant's settlement meter: give "
                         f"`meter:` for plant(s) {', '.join(missing)} (or use --energy-csv)")


class _Problems(Exception):
    def __init__(self, problems: list[tuple[tuple, str]]) -> None:
        super().__init__(problems)
        self.problems = problems


def parse_inputs(text: str, name: str = "<allocation>", raw: bytes | None = None) -> Inputs:
    """Validate an allocation document; InputError lists every problem with file:line."""
    try:  # numbers as exact Decimals; a duplicate key is an error, never "the last one wins"
        data, lines = parse_yaml(text, name, exact=True)
    except YamlError as e:
        raise InputError(str(e)) from None
    prefix: tuple = ()
    if isinstance(data, dict) and "allocation" in data:
        data, prefix = data["allocation"], ("allocation",)
    sha = hashlib.sha256(raw if raw is not None else text.encode()).hexdigest()
    try:
        return _to_inputs(AllocationSpec.model_validate(data), sha)
    except ValidationError as e:
        problems = [(tuple(err["loc"]), err["msg"]) for err in e.errors()]
    except _Problems as e:
        problems = e.problems
    msgs = []
    for loc, msg in problems:
        full = (*prefix, *loc)
        line = line_of(lines, full)
        where = ".".join(str(x) for x in full) or "(top)"
        msgs.append(f"{name}:{line or 1}: {where}: {msg}")
    raise InputError("\n".join(msgs))  # each problem on a line of its own, file:line first


def load_inputs(path: Path) -> Inputs:
    try:
        text, raw = read_yaml_source(path)
    except YamlError as e:
        raise InputError(str(e)) from None
    return parse_inputs(text, str(path), raw)
