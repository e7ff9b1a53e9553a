"""What a vendor alarm or fault code means: names in English and Chinese, severity, action.

Decoders report bare vendor codes (Huawei alarm ids from the Alarm 1-3 bits, Sungrow fault
codes); the catalogs in ``config/profiles/alarms/<profile>.yaml`` turn a (profile, code) into
words an O&M crew can act on. A code nobody catalogued still gets an entry, named by its
number, so an alarm is never dropped for want of a description.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from config.errors import ConfigError
from config.profiles import PROFILE_DIR
from config.validation import format_errors
from config.yaml_loader import load_yaml

ALARM_DIR = PROFILE_DIR / "alarms"
Severity = Literal["major", "minor", "warning"]


class _AlarmSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: int = Field(ge=0)
    name: str = Field(min_length=1)
    name_zh: str = Field(min_length=1)
    severity: Severity
    action: str = Field(min_length=1)


class _CatalogSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    profile: str
    document: str = Field(min_length=3)
    alarms: list[_AlarmSpec]


@dataclass(frozen=True, slots=True)
class AlarmInfo:
    profile: str
    code: int
    name: str
    name_zh: str
    severity: str
    action: str
    known: bool = True  # False: the code is in no catalog; the text is a placeholder


class AlarmCatalog:
    """Every catalogued alarm, by (profile name, vendor code)."""

    def __init__(self, entries: dict[tuple[str, int], AlarmInfo],
                 documents: dict[str, str]) -> None:
        self._entries = entries
        self.documents = documents  # profile -> the document its catalog follows

    def lookup(self, profile: str, code: int) -> AlarmInfo:
        found = self._entries.get((profile, code))
        if found is not None:
            return found
        return AlarmInfo(profile, code, f"{profile} alarm {code}", f"告警 {code}", "major",
                         "Look the code up in the vendor's manual.", known=False)

    def codes(self, profile: str) -> list[int]:
        return sorted(code for p, code in self._entries if p == profile)


def load_alarm_catalog(folder: Path = ALARM_DIR) -> AlarmCatalog:
    entries: dict[tuple[str, int], AlarmInfo] = {}
    documents: dict[str, str] = {}
    for path in sorted(Path(folder).glob("*.yaml")):
        data, lines = load_yaml(path)
        try:
            spec = _CatalogSpec.model_validate(data)
        except ValidationError as e:
            problems = format_errors(e, lines, str(path))
            raise ConfigError("\n".join(problems), problems) from None
        documents[spec.profile] = spec.document
        for a in spec.alarms:
            key = (spec.profile, a.id)
            if key in entries:
                raise ConfigError(f"{path}: alarm {a.id} is listed twice")
            entries[key] = AlarmInfo(spec.profile, a.id, a.name, a.name_zh, a.severity, a.action)
    return AlarmCatalog(entries, documents)
