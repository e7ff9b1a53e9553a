"""The canonical fields' physical bounds, read from ``config/fields/bounds.yaml``.

Data, not code, so that a new field (a new profile, an MQTT mapping) gets its bounds where the
others are, and a test can check that every field any profile produces has a rule.
"""

from __future__ import annotations

import re
from datetime import date
from functools import cache
from pathlib import Path
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, model_validator

from config.errors import ConfigError
from config.validation import format_errors
from config.yaml_loader import load_yaml

BOUNDS_FILE = Path(__file__).resolve().parent / "fields" / "bounds.yaml"
# The national PV poverty-relief programme began in 2014: no plant of it is older, so a
# lifetime counter can hold at most what its rating gives since then, unless a plant says
# when it was commissioned.
EARLIEST_COMMISSIONING = date(2014, 1, 1)


class FieldRule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    match: str = Field(description="regular expression on the whole field name")
    unit: str = ""
    slack: float = Field(0.0, ge=0)
    rated: float | None = Field(None, gt=0, description="|v| <= k x rated W + slack")
    per_volt: float | None = Field(None, gt=0, description="|v| <= rated W x margin / V")
    range: tuple[float, float] | None = None
    lifetime: float | None = Field(None, gt=0, description="kWh since commissioning, x rated")
    daily: float | None = Field(None, gt=0, description="kWh in a day, x rated")

    @model_validator(mode="after")
    def _one_rule(self) -> Self:
        given = [k for k in ("rated", "per_volt", "range", "lifetime", "daily")
                 if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one of rated, per_volt, range, lifetime, daily "
                             f"(got {', '.join(given) or 'none'})")
        if self.range is not None and self.range[0] >= self.range[1]:
            raise ValueError(f"range {list(self.range)}: the first bound must be the lower")
        try:
            re.compile(self.match)
        except re.error as e:
            raise ValueError(f"match {self.match!r} is not a regular expression: {e}") from e
        return self


class FieldBounds(BaseModel):
    model_config = ConfigDict(extra="forbid")

    margin: float = Field(1.5, ge=1, description="over rated power, for currents")
    fields: list[FieldRule] = Field(min_length=1)
    _re: list[tuple[re.Pattern[str], FieldRule]] = PrivateAttr(default_factory=list)
    _by_name: dict[str, FieldRule | None] = PrivateAttr(default_factory=dict)

    def rule(self, name: str) -> FieldRule | None:
        """The first rule whose pattern matches the whole field name (remembered per name: a
        fleet has few field names, and every new device asks for each of them)."""
        known = self._by_name
        if name not in known:
            known[name] = next((rule for compiled, rule in self._compiled()
                                if compiled.fullmatch(name)), None)
        return known[name]

    def _compiled(self) -> list[tuple[re.Pattern[str], FieldRule]]:
        if not self._re:
            self._re = [(re.compile(r.match), r) for r in self.fields]
        return self._re


@cache
def field_bounds(path: Path = BOUNDS_FILE) -> FieldBounds:
    data, lines = load_yaml(path)
    try:
        return FieldBounds.model_validate(data)
    except ValidationError as e:
        raise ConfigError("\n".join(format_errors(e, lines, str(path), data))) from None
