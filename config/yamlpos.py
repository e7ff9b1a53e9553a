"""YAML loading that remembers where every key and item stood, so errors can name the line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from config.errors import ConfigError

Loc = tuple[str | int, ...]


class _Loader(yaml.SafeLoader):
    pass


# libyaml's parser, where PyYAML was built with it: its nodes carry the same line marks, and it
# parses a 20,000-device site in a fraction of the pure-Python parser's time (start-up)
_Composer: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", _Loader)


_SCALARS = _Loader("")  # only its constructor is used, for scalar values


def _build(node: yaml.Node, loc: Loc, lines: dict[Loc, int], source: str) -> Any:
    lines[loc] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise ConfigError(f"{source}:{key_node.start_mark.line + 1}: keys must be scalars")
            key = key_node.value
            if key == "<<":
                raise ConfigError(
                    f"{source}:{key_node.start_mark.line + 1}: merge keys are not supported"
                )
            if key in out:
                raise ConfigError(
                    f"{source}:{key_node.start_mark.line + 1}: duplicate key {key!r} "
                    f"(first at line {lines[(*loc, key)]})"
                )
            lines[(*loc, key)] = key_node.start_mark.line + 1
            out[key] = _build(value_node, (*loc, key), lines, source)
            lines[(*loc, key)] = key_node.start_mark.line + 1
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_build(item, (*loc, i), lines, source) for i, item in enumerate(node.value)]
    return _SCALARS.construct_object(node, deep=True)


def load_yaml_with_lines(path: Path) -> tuple[Any, dict[Loc, int]]:
    """Parse ``path``; return the data and a map from each key path to its 1-based line."""
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise ConfigError(f"{source}: cannot read: {e.strerror}") from e
    try:
        node = yaml.compose(text, Loader=_Composer)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark
        where = f"{source}:{mark.line + 1}" if mark else source
        raise ConfigError(f"{where}: YAML syntax error: {e.problem}") from e
    lines: dict[Loc, int] = {}
    if node is None:
        return {}, lines
    return _build(node, (), lines, source), lines


def line_of(lines: dict[Loc, int], loc: Loc) -> int | None:
    """The line of the deepest known prefix of ``loc``."""
    for end in range(len(loc), -1, -1):
        if (found := lines.get(tuple(loc[:end]))) is not None:
            return found
    return None
