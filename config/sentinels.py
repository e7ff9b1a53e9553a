"""The "not implemented" table: which register words mean "no value", by family and type.

It is data (``config/profiles/sentinels/families.yaml``), read by two independent parties: the
collector's decoder, which turns such a word into null, and the simulator, which serves it in
every register it does not set. Neither owns the table, so neither can bend it to agree with
the other's bug.

Patterns are unsigned register bit patterns (0x8000 for an int16), as vendor documents print
them; comparing patterns, not signed numbers, leaves each party's own sign handling out of it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from config.errors import ConfigError
from config.profile_points import TYPE_WORDS, PointType
from config.validation import format_errors
from config.yaml_loader import load_yaml

SENTINEL_FILE = Path(__file__).resolve().parent / "profiles" / "sentinels" / "families.yaml"
# NaN (float32) and an empty string are "no value" in every family: rules, not table entries
NOT_IN_TABLE = ("float32", "string", "pad")
FAMILY_NAME = r"^[a-z0-9][a-z0-9_\-]*$"


class FamilySpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    source: str = Field(min_length=3, description="the document that defines these values")
    types: dict[PointType, list[int]] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _patterns_fit(self) -> FamilySpec:
        for type_, patterns in self.types.items():
            if type_ in NOT_IN_TABLE:
                raise ValueError(f"{type_}: has no integer pattern (NaN and the empty string "
                                 "are 'no value' in every family)")
            bits = 16 * TYPE_WORDS[type_]
            for v in patterns:
                if not 0 <= v < 1 << bits:
                    raise ValueError(f"{type_}: {v:#x} is not a {bits}-bit register pattern "
                                     "(write it unsigned, as the document prints it)")
        return self


class SentinelFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    families: dict[str, FamilySpec]

    @model_validator(mode="after")
    def _names(self) -> SentinelFile:
        for name in self.families:
            if not re.match(FAMILY_NAME, name):
                raise ValueError(f"family name {name!r}: use lower case, digits, '-' and '_'")
        if "none" not in self.families:
            raise ValueError("the family 'none' (no sentinel at all) must be defined")
        return self


@dataclass(frozen=True)
class SentinelTable:
    """family -> type -> the bit patterns that mean "not implemented"."""

    families: dict[str, dict[str, tuple[int, ...]]]
    sources: dict[str, str]
    path: Path

    def patterns(self, family: str, type_: str) -> tuple[int, ...]:
        """The patterns of ``type_`` in ``family`` (empty: every value of that type is valid)."""
        try:
            return self.families[family].get(type_, ())
        except KeyError:
            raise ConfigError(f"{self.path}: no sentinel family {family!r} "
                              f"(known: {', '.join(sorted(self.families))})") from None


def load_sentinels(path: Path = SENTINEL_FILE) -> SentinelTable:
    data, lines = load_yaml(path)
    try:
        spec = SentinelFile.model_validate(data)
    except ValidationError as e:
        problems = format_errors(e, lines, str(path))
        raise ConfigError("\n".join(problems), problems) from None
    return SentinelTable(
        families={name: {t: tuple(v) for t, v in f.types.items()}
                  for name, f in spec.families.items()},
        sources={name: f.source for name, f in spec.families.items()},
        path=path,
    )


@cache
def sentinel_table() -> SentinelTable:
    """The project's table, read once."""
    return load_sentinels()
