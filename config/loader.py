"""Load a config file into the pydantic model; every error names file, line, field and owner."""

from __future__ import annotations

from pathlib import Path

from pydantic import ValidationError

from config.errors import ConfigError
from config.profiles import ProfileRegistry, load_registry
from config.schema import Config
from config.validation import dotted, format_errors
from config.yamlpos import Loc, line_of, load_yaml_with_lines


def load_config(path: str | Path, registry: ProfileRegistry | None = None) -> Config:
    """Parse and validate ``path``. Raises ConfigError listing every problem found."""
    path = Path(path)
    data, lines = load_yaml_with_lines(path)
    if not isinstance(data, dict):
        raise ConfigError(f"{path}:1: the top level must be a mapping")
    registry = registry or load_registry()
    problems: list[str] = []
    cfg: Config | None = None
    try:
        cfg = Config.model_validate(data)
    except ValidationError as e:
        problems += format_errors(e, lines, str(path), data)
    for ci, county in enumerate(data.get("counties") or []):
        if not isinstance(county, dict):
            continue
        for loc, dev in _raw_devices(county, ("counties", ci)):
            name = dev.get("profile") if isinstance(dev, dict) else None
            if isinstance(name, str) and name not in registry:
                line = line_of(lines, (*loc, "profile"))
                problems.append(
                    f"{path}:{line}: {dotted((*loc, 'profile'))} (device {dev.get('id')!r}): "
                    f"unknown profile {name!r}; known: {', '.join(sorted(registry))}"
                )
    if problems or cfg is None:
        problems.sort(key=_line_number)
        raise ConfigError("\n".join(problems), problems)
    return cfg


def _line_number(problem: str) -> int:
    try:
        return int(problem.split(":", 2)[1])
    except (IndexError, ValueError):
        return 0


def _raw_devices(county: dict, loc: Loc) -> list[tuple[Loc, dict]]:
    found: list[tuple[Loc, dict]] = []

    def plants(holder: dict, hloc: Loc) -> None:
        for pi, plant in enumerate(holder.get("plants") or []):
            if not isinstance(plant, dict):
                continue
            for di, dev in enumerate(plant.get("devices") or []):
                found.append(((*hloc, "plants", pi, "devices", di), dev))
            for gi, gw in enumerate(plant.get("gateways") or []):
                if not isinstance(gw, dict):
                    continue
                for di, dev in enumerate(gw.get("devices") or []):
                    found.append(((*hloc, "plants", pi, "gateways", gi, "devices", di), dev))

    plants(county, loc)
    for ti, town in enumerate(county.get("townships") or []):
        tloc = (*loc, "townships", ti)
        if not isinstance(town, dict):
            continue
        plants(town, tloc)
        for vi, village in enumerate(town.get("villages") or []):
            if isinstance(village, dict):
                plants(village, (*tloc, "villages", vi))
    return found
