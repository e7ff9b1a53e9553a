"""Payload mappings: how an MQTT message becomes a reading, as YAML data (config/mappings/).

Three formats, chosen by ``format:``:

- ``pvrelief``: the edge collector's own JSON (schema ``pvrelief.reading/1``); nothing to map;
- ``json``: one JSON object per message from a data logger; each canonical field names the
  path of its value and a scale, the timestamp names its path and format, and the plant and
  device come from a topic level or a payload path;
- ``per-topic``: one value per topic (``<logger>/<serial>/<channel>/<quantity>``), each payload
  a small JSON object with the value and its timestamp; values of one device whose timestamps
  fall in one window are assembled into one reading stamped with the window's start.

A mapping names no device: a message's device key is looked up among the config's devices
with ``protocol: mqtt`` (case-insensitively), which give its plant, kind and counters.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, RootModel, ValidationError, field_validator, model_validator

from config.errors import ConfigError
from config.strict import Strict
from config.validation import format_errors
from config.yaml_loader import load_yaml

MAPPING_DIR = Path(__file__).resolve().parent / "mappings"
FIELD_PATTERN = r"^[a-z][a-z0-9_]*$"  # canonical field: unit in the name, safe in line protocol
CounterKind = Literal["lifetime", "daily"]
TimeFormat = Literal["epoch_s", "epoch_ms", "epoch_us", "epoch_ns", "iso8601"]


class Locator(Strict):
    """Where a value is: a topic level (0 is the first) or a dotted path in the payload."""

    topic: int | None = Field(None, ge=0, le=31, description="topic level, 0 = the first")
    path: str | None = Field(None, min_length=1, description="dotted JSON path, e.g. data.sn")

    @model_validator(mode="after")
    def _one(self) -> Locator:
        if (self.topic is None) == (self.path is None):
            raise ValueError("give exactly one of topic or path")
        return self


class TimestampSpec(Strict):
    path: str = Field(min_length=1, description="dotted JSON path of the timestamp")
    format: TimeFormat = Field(description="epoch_s|ms|us|ns (a number), or iso8601 (a string)")
    timezone: str | None = Field(
        None, description="iso8601 without an offset is local time here; none: an offset is "
                          "required")

    @field_validator("timezone")
    @classmethod
    def _zone(cls, tz: str | None) -> str | None:
        if tz is not None:
            try:
                ZoneInfo(tz)
            except (ZoneInfoNotFoundError, ValueError) as e:
                raise ValueError(f"unknown timezone {tz!r}") from e
        return tz


class JsonField(Strict):
    path: str = Field(min_length=1, description="dotted JSON path of the value")
    scale: float = Field(1.0, description="the canonical value is the payload's times this")


class StatusSpec(Strict):
    path: str = Field(min_length=1, description="dotted JSON path of the device state")
    values: dict[str, str] = Field(
        default_factory=dict, description="payload value (as text) -> normalised status; "
                                          "others pass as they are")


class _Base(Strict):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_\-]*$", description="what subscriptions name")
    description: str = Field("", description="which logger or firmware publishes this")
    counters: dict[Annotated[str, Field(pattern=FIELD_PATTERN)], CounterKind] | None = Field(
        None, description="energy counters and their kind; none: the device profile's")


class PvreliefMapping(_Base):
    format: Literal["pvrelief"]


class JsonMapping(_Base):
    format: Literal["json"]
    device: Locator = Field(description="the device key (its config id, any case)")
    plant: Locator | None = Field(None, description="checked against the device's plant")
    timestamp: TimestampSpec
    fields: dict[Annotated[str, Field(pattern=FIELD_PATTERN)], JsonField] = Field(
        min_length=1, description="canonical field -> where its value is")
    status: StatusSpec | None = None
    faults: str | None = Field(None, description="dotted path of a list of fault codes (or one "
                                                 "code, 0 = none)")


class TopicField(Strict):
    field: str = Field(pattern=FIELD_PATTERN, description="the canonical field")
    scale: float = Field(1.0, description="the canonical value is the payload's times this")


class PerTopicMapping(_Base):
    format: Literal["per-topic"]
    device: int = Field(ge=0, le=31, description="topic level of the device key")
    plant: int | None = Field(None, ge=0, le=31, description="topic level of the plant (checked)")
    quantity_from: int = Field(
        ge=1, le=31, description="the levels from here to the end, joined by /, name the value")
    value: str = Field("v", min_length=1, description="dotted JSON path of the value")
    timestamp: TimestampSpec
    window_s: float = Field(
        60.0, gt=0, le=86_400, description="values of a device within one window: one reading")
    fields: dict[str, TopicField] = Field(
        min_length=1, description="quantity (e.g. 0/power) -> canonical field; others ignored")


Mapping = Annotated[PvreliefMapping | JsonMapping | PerTopicMapping,
                    Field(discriminator="format")]


class MappingFile(RootModel[Mapping]):
    """One file in config/mappings/ (the JSON Schema export's root)."""


def load_mapping(path: Path) -> PvreliefMapping | JsonMapping | PerTopicMapping:
    data, lines = load_yaml(path)
    try:
        return MappingFile.model_validate(data).root
    except ValidationError as e:
        problems = format_errors(e, lines, str(path))
        raise ConfigError("\n".join(problems), problems) from None


MappingRegistry = dict[str, PvreliefMapping | JsonMapping | PerTopicMapping]


def load_mappings(*extra_dirs: Path) -> MappingRegistry:
    """Every ``*.yaml`` mapping in config/mappings (and extra folders), by name."""
    out: MappingRegistry = {}
    for folder in (MAPPING_DIR, *extra_dirs):
        for path in sorted(Path(folder).glob("*.yaml")):
            m = load_mapping(path)
            if m.name in out:
                raise ConfigError(f"{path}: mapping name {m.name!r} is used twice")
            out[m.name] = m
    return out
