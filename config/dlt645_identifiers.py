"""DL/T 645-2007 data identifiers as YAML data (``config/dlt645/identifiers.yaml``).

Each identifier is written as the standard's appendix A prints it: DI3 DI2 DI1 DI0 in hex
(sent DI0 first), the data format in the standard's notation and the unit. The notation is
the layout: ``XXXXXX.XX`` is 8 BCD digits in 4 bytes with 2 decimals, ``YYMMDDWW`` a date
with the weekday, ``hhmmss`` a time, ``NNNNNN`` a plain number. The loader resolves each entry
into an ``Identifier`` record once; the collector builds its decoders from those records and
the simulator its encoders, each with code of its own.

A block identifier (DI1 or DI0 = FF) reads several identifiers in one request; its reply is
its members' values back to back, in the order listed, as many as the meter carries (a meter
with two tariffs answers the energy block with three values).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from config.errors import ConfigError
from config.validation import format_errors
from config.yaml_loader import Lines, line_of, load_yaml

CATALOG = Path(__file__).resolve().parent / "dlt645" / "identifiers.yaml"
DI_PATTERN = r"^[0-9A-F]{2}( [0-9A-F]{2}){3}$"
NUMBER = re.compile(r"^(X+)(?:\.(X+))?$")
DIGITS = re.compile(r"^N+$")
DATE, TIME = "YYMMDDWW", "hhmmss"
Kind = Literal["number", "digits", "date", "time"]
Di = Annotated[str, Field(pattern=DI_PATTERN)]


class IdentifierSpec(BaseModel):
    """One data identifier as written in the catalog."""

    model_config = ConfigDict(extra="forbid")

    di: str = Field(pattern=DI_PATTERN, description="DI3 DI2 DI1 DI0 in hex, as the standard")
    name: str = Field(min_length=3, description="what it is, in English")
    zh: str = Field(min_length=2, description="its name in the standard (Chinese)")
    format: str = Field(description="the standard's data format: XXXXXX.XX, YYMMDDWW, ...")
    unit: str | None = Field(None, description="the unit the meter counts in (kWh, V, A, kW)")
    signed: bool = Field(False, description="the top bit of the highest byte is the sign")
    field: str | None = Field(None, pattern=r"^[a-z][a-z0-9_]*$",
                              description="the canonical reading field it feeds")
    scale: float = Field(1.0, gt=0, description="meter unit -> field unit (kW -> W: 1000)")
    # the sign or the side (forward/reverse) follows the direction of the power flow, which
    # `export_is` on the meter turns into pvrelief's export-positive convention
    directional: bool = Field(False, description="flipped by the meter's export_is")
    counter: Literal["lifetime"] | None = Field(None, description="a lifetime energy counter")
    block: list[Di] | None = Field(None, description="a block: its members' DIs, in order")

    @field_validator("format")
    @classmethod
    def _known_format(cls, fmt: str) -> str:
        parse_format(fmt)
        return fmt

    @model_validator(mode="after")
    def _consistent(self) -> IdentifierSpec:
        kind, _, _ = parse_format(self.format)
        if kind != "number" and (self.signed or self.counter or self.scale != 1.0):
            raise ValueError(f"{self.format}: signed, counter and scale are for numbers only")
        if self.counter and self.signed:
            raise ValueError("a lifetime counter only rises: it cannot be signed")
        if self.block is not None:
            if "FF" not in self.di.split()[2:]:
                raise ValueError(f"block {self.di}: a block has FF in DI1 or DI0")
            if self.field is not None or self.counter is not None:
                raise ValueError(f"block {self.di}: its members carry the fields")
        return self


class CatalogSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    document: str = Field(min_length=3, description="the standard and edition followed")
    identifiers: list[IdentifierSpec]
    poll: list[Di] = Field(min_length=1, description="what a poll reads by default (DIs)")


def parse_format(fmt: str) -> tuple[Kind, int, int]:
    """(kind, bytes, decimals) of a format in the standard's notation."""
    if fmt == DATE:
        return "date", 4, 0
    if fmt == TIME:
        return "time", 3, 0
    if m := NUMBER.match(fmt):
        digits = len(m.group(1)) + len(m.group(2) or "")
        kind: Kind = "number"
        decimals = len(m.group(2) or "")
    elif DIGITS.match(fmt):
        digits, kind, decimals = len(fmt), "digits", 0
    else:
        raise ValueError(f"format {fmt!r}: expected XXX.X-style digits, N.., {DATE} or {TIME}")
    if digits % 2:
        raise ValueError(f"format {fmt!r}: {digits} digits do not fill whole bytes")
    return kind, digits // 2, decimals


def di_value(text: str) -> int:
    """'00 01 00 00' (DI3 first) or '00010000' -> 0x00010000."""
    compact = text.replace(" ", "")
    if not re.fullmatch(r"[0-9A-Fa-f]{8}", compact):
        raise ValueError(f"data identifier {text!r}: four hex bytes, DI3 first")
    return int(compact, 16)


@dataclass(frozen=True, slots=True)
class Identifier:
    """One resolved data identifier."""

    di: int
    name: str
    zh: str
    format: str
    kind: Kind
    size: int  # bytes of one value on the wire
    decimals: int
    unit: str | None = None
    signed: bool = False
    field: str | None = None
    scale: float = 1.0
    directional: bool = False
    counter: str | None = None
    members: tuple[int, ...] = ()  # a block's members, in reply order

    @property
    def is_block(self) -> bool:
        return bool(self.members)

    @property
    def wrap(self) -> float | None:
        """Where a counter of this format rolls over to 0, in the field's unit."""
        if self.counter is None:
            return None
        return 10 ** (2 * self.size - self.decimals) * self.scale

    @property
    def text(self) -> str:
        """The DI as the standard writes it: '00 01 00 00'."""
        return " ".join(f"{(self.di >> s) & 0xFF:02X}" for s in (24, 16, 8, 0))


@dataclass(frozen=True)
class Catalog:
    document: str
    identifiers: dict[int, Identifier]
    poll: tuple[int, ...]
    source: Path
    by_field: dict[str, Identifier] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        self.by_field.update({i.field: i for i in self.identifiers.values() if i.field})

    def get(self, di: int) -> Identifier | None:
        return self.identifiers.get(di)


def _resolve(spec: CatalogSpec, path: Path, lines: Lines) -> Catalog:
    def at(*loc: str | int) -> str:
        return f"{path}:{line_of(lines, loc) or 1}: {'.'.join(map(str, loc))}"

    out: dict[int, Identifier] = {}
    first: dict[int, int] = {}
    fields: dict[str, int] = {}
    for i, s in enumerate(spec.identifiers):
        di = di_value(s.di)
        if di in out:
            raise ConfigError(f"{at('identifiers', i, 'di')}: {s.di} is listed twice (first "
                              f"at line {line_of(lines, ('identifiers', first[di]))})")
        first[di] = i
        if s.field is not None:
            if s.field in fields:
                raise ConfigError(f"{at('identifiers', i, 'field')}: {s.field} is already fed "
                                  f"by line {line_of(lines, ('identifiers', fields[s.field]))}")
            fields[s.field] = i
        kind, size, decimals = parse_format(s.format)
        out[di] = Identifier(di, s.name, s.zh, s.format, kind, size, decimals, s.unit,
                             s.signed, s.field, s.scale, s.directional, s.counter)
    for i, s in enumerate(spec.identifiers):
        if s.block is None:
            continue
        members = tuple(di_value(m) for m in s.block)
        for m in members:
            member = out.get(m)
            if member is None or member.is_block:
                raise ConfigError(f"{at('identifiers', i, 'block')}: member {m:08X} is not a "
                                  "plain identifier of this catalog")
            if member.format != s.format or member.signed != s.signed:
                raise ConfigError(f"{at('identifiers', i, 'block')}: member {member.text} is "
                                  f"{member.format}{' signed' if member.signed else ''}, the "
                                  f"block {s.format}{' signed' if s.signed else ''}")
        di = di_value(s.di)
        old = out[di]
        out[di] = Identifier(di, old.name, old.zh, old.format, old.kind, old.size,
                             old.decimals, old.unit, old.signed, None, old.scale,
                             old.directional, None, members)
    poll = tuple(di_value(p) for p in spec.poll)
    for n, p in enumerate(poll):
        if p not in out:
            raise ConfigError(f"{at('poll', n)}: {p:08X} is not in the catalog")
    return Catalog(spec.document, out, poll, path)


def load_catalog(path: Path = CATALOG) -> Catalog:
    """Read and validate a catalog; every problem names the file and line."""
    data, lines = load_yaml(path)
    try:
        spec = CatalogSpec.model_validate(data)
    except ValidationError as e:
        problems = format_errors(e, lines, str(path))
        raise ConfigError("\n".join(problems), problems) from None
    return _resolve(spec, path, lines)


BEGIN = "<!-- dlt645-identifiers:begin (generated by python -m config.dlt645_identifiers) -->"
END = "<!-- dlt645-identifiers:end -->"


def render(catalog: Catalog) -> str:
    """The catalog as the README's table (a test keeps the two in step)."""
    polled = set(catalog.poll)
    out = [BEGIN, "", "| DI3 DI2 DI1 DI0 | what | 名称 | format | unit | field | polled |",
           "|---|---|---|---|---|---|---|"]
    for i in catalog.identifiers.values():
        fmt = f"{i.format}, signed" if i.signed else i.format
        if i.is_block:
            what = f"{i.name}: {len(i.members)} values"
            target = "its members'"
        else:
            what, target = i.name, f"`{i.field}`" if i.field else ""
        out.append(f"| `{i.text}` | {what} | {i.zh} | {fmt} | {i.unit or ''} | {target} | "
                   f"{'yes' if i.di in polled else ''} |")
    out.append(END)
    return "\n".join(out)


if __name__ == "__main__":
    print(render(load_catalog()))
