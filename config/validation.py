"""Turn pydantic errors into lines that name the file, the line, the field and its owner."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from config.yaml_loader import Loc, line_of


def dotted(loc: Loc) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def owner(data: Any, loc: Loc) -> str:
    """The innermost plant or device that ``loc`` lies in, as 'plant x, device y'."""
    names: list[str] = []
    node = data
    for i, part in enumerate(loc):
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            break
        if isinstance(node, dict) and isinstance(node.get("id"), str) and i > 0:
            kind = loc[i - 1]
            label = {"plants": "plant", "devices": "device", "villages": "village",
                     "townships": "township", "counties": "county",
                     "gateways": "gateway", "dlt645_gateways": "gateway",
                     "meters": "meter"}.get(str(kind))
            if label:
                names.append(f"{label} {node['id']!r}")
    return ", ".join(names)


def format_errors(
    e: ValidationError, lines: dict[Loc, int], source: str, data: Any = None
) -> list[str]:
    problems = []
    for err in e.errors():
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        line = line_of(lines, loc)
        where = f"{source}:{line}" if line else source
        who = owner(data, loc) if data is not None else ""
        field = dotted(loc) or "(top level)"
        msg = err["msg"].removeprefix("Value error, ")
        problems.append(f"{where}: {field}{f' ({who})' if who else ''}: {msg}")
    return problems
