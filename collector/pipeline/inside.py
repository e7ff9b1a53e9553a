"""The plausibility stage's fast pass: one straight-line function per device's field set.

Every reading of every device passes the plausibility stage, and nearly all are plausible
throughout, so for a device whose readings keep one field set the stage compiles a check
that says "all inside" or "look closer" and nothing else: one line per field, its bounds
default arguments (local variables, the fastest Python reads), no loop and no tuple
unpacking. The source depends only on the field set (and which fields have no rule or no
finite bounds), so it is compiled once per set and shared by every device reporting it;
a device gets that code with its own bounds (``FunctionType``, a few hundred bytes).

A check returns True only if the reading has exactly these fields (its length, and a
KeyError for one missing) and every value is None or within its bounds; NaN is within
none. Anything else is the stage's exact check to judge.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from types import FunctionType
from typing import cast

Inside = Callable[[Mapping[str, float | None]], bool]
Span = tuple[float, float]  # (lo, hi); None: the field has no rule, any value passes
NEVER: Span = (math.inf, -math.inf)  # no value lies inside: always the exact check

_templates: dict[tuple[tuple[str, str], ...], FunctionType] = {}


def _kind(span: Span | None) -> str:
    if span is None:
        return "any"
    if not (math.isfinite(span[0]) and math.isfinite(span[1])):
        return "never"  # NEVER, or bounds only the exact check applies (it rejects infinity)
    return "span"


def _template(shape: tuple[tuple[str, str], ...]) -> FunctionType:
    params, lines = ["f"], [f"    if len(f) != {len(shape)}:", "        return False"]
    for k, (name, kind) in enumerate(shape):
        if kind == "any":
            lines.append(f"    f[{name!r}]")  # present, never judged
        elif kind == "never":
            lines += [f"    if f[{name!r}] is not None:", "        return False"]
        else:
            params += [f"lo{k}=0.0", f"hi{k}=0.0"]
            lines += [f"    v = f[{name!r}]",
                      f"    if v is not None and not lo{k} <= v <= hi{k}:",
                      "        return False"]
    source = "\n".join([f"def inside({', '.join(params)}):", *lines, "    return True", ""])
    namespace: dict[str, object] = {}
    exec(compile(source, "<plausibility fast pass>", "exec"), namespace)
    return cast(FunctionType, namespace["inside"])


def compile_inside(spans: Sequence[tuple[str, Span | None]]) -> Inside:
    """The fast pass for readings with exactly these fields, in any order."""
    shape = tuple((name, _kind(span)) for name, span in spans)
    template = _templates.get(shape)
    if template is None:
        template = _templates[shape] = _template(shape)
    bounds = tuple(b for (_, span), (_, kind) in zip(spans, shape, strict=True)
                   if span is not None and kind == "span" for b in span)
    return cast(Inside, FunctionType(template.__code__, template.__globals__, "inside",
                                     bounds or None))
