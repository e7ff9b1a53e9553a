"""Read YAML exactly: decimals stay ``Decimal`` (never float), and every key keeps its line."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

from allocator.errors import InputError

Loc = tuple[str | int, ...]


class _ExactLoader(yaml.SafeLoader):
    """SafeLoader whose floats are Decimals built from the text as written."""


def _decimal(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> Decimal:
    return Decimal(loader.construct_scalar(node).replace("_", ""))


_ExactLoader.add_constructor("tag:yaml.org,2002:float", _decimal)


def _walk(node: yaml.Node, path: Loc, out: dict[Loc, int]) -> None:
    out[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            out[(*path, k.value)] = k.start_mark.line + 1
            _walk(v, (*path, k.value), out)
    elif isinstance(node, yaml.SequenceNode):
        for i, v in enumerate(node.value):
            _walk(v, (*path, i), out)


def load_yaml(text: str, name: str) -> tuple[Any, dict[Loc, int]]:
    """The document and a map from key path to its 1-based line."""
    try:
        node = yaml.compose(text, Loader=_ExactLoader)
        data = yaml.load(text, Loader=_ExactLoader)
    except yaml.YAMLError as e:
        raise InputError(f"{name}: not valid YAML: {e}") from e
    lines: dict[Loc, int] = {}
    if node is not None:
        _walk(node, (), lines)
    return data, lines


def line_of(lines: dict[Loc, int], loc: Loc) -> int | None:
    """The line of the deepest known prefix of ``loc``."""
    for n in range(len(loc), -1, -1):
        if (line := lines.get(tuple(loc[:n]))) is not None:
            return line
    return None


def read_text(path: Path) -> tuple[str, bytes]:
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise InputError(f"cannot read {path}: {e.strerror}") from e
    return raw.decode("utf-8-sig"), raw
