"""The value points of one profile, compiled into one straight-line function.

A profile's value points are fixed when it is loaded, and every poll of every device decodes
all of them, so ``compile_values`` writes their decoding out as Python source once (as
``dataclasses`` and ``namedtuple`` write their methods) and compiles it: each point becomes a
few lines with its register index, sentinels, scale and bounds as constants, with no loop,
no tuple unpacking and no branch a point does not need (a point without sentinels is not
looked up; an integer without bounds is never compared). It halves ``DeviceDecoder.decode``.

The function takes the unpacked raw values, the scale factors and the CT/PT ratios in effect
and returns the fields and, only when some field is not good, their qualities. ``source``
keeps the text.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

from collector.reading import Quality

TEN = [10.0**i for i in range(64)]
SF_LO, SF_HI = -10, 10  # a scale factor outside -10..10 cannot be right
Values = Callable[[tuple[Any, ...], list[int | None], list[float | None]],
                  tuple[dict[str, float | None], dict[str, Quality] | None]]


class ValuePoint(NamedTuple):
    field: str
    index: int  # of its raw value in the unpacked tuple
    sentinels: frozenset[int]  # raw values that mean "not implemented"
    sf: int  # index of its scale factor in ``sfs``; -1: a fixed scale
    mantissa: int | float  # scale * factor = mantissa * 10**exponent
    exponent: int
    lo: float | None  # plausible range of the value; None: unbounded
    hi: float | None
    is_float: bool  # a float32: NaN is its "not implemented", infinities are invalid
    # indices in ``ratios`` of the CT/PT ratios that multiply it (a meter's secondary-side
    # value times its transformers' ratios); a ratio that is None makes the value invalid
    ratios: tuple[int, ...] = ()


def _scaled(mantissa: int | float, e: int) -> str:
    """The expression for raw * mantissa * 10**e, with e known now."""
    m = "" if mantissa == 1 else f" * {mantissa!r}"
    if e < 0:
        return f"raw{m} / {TEN[-e]!r}"
    return f"raw{m} * {TEN[e]!r}"


def _bad(name: str, quality: str, pad: str) -> list[str]:
    return [f"{pad}fields[{name}] = None",
            f"{pad}if q is None:", f"{pad}    q = {{}}",
            f"{pad}q[{name}] = {quality}"]


def compile_values(points: Sequence[ValuePoint]) -> tuple[Values, str]:
    consts: dict[str, Any] = {"NI": Quality.NOT_IMPLEMENTED, "INV": Quality.INVALID,
                              "TEN": TEN, "NAN": float("nan")}
    lines = ["def decode_values(raws, sfs, ratios):", "    fields = {}", "    q = None"]
    for k, p in enumerate(points):
        name = repr(p.field)
        lines.append(f"    raw = raws[{p.index}]")
        missing = []
        if p.sentinels:
            consts[f"S{k}"] = p.sentinels
            missing.append(f"raw in S{k}")
        if p.is_float:
            missing.append("raw != raw")
        pad = "    "
        if missing:
            lines.append(f"    if {' or '.join(missing)}:")
            lines += _bad(name, "NI", "        ")
            lines.append("    else:")
            pad = "        "
        if p.sf >= 0:
            lines.append(f"{pad}sf = sfs[{p.sf}]")
            lines.append(f"{pad}if sf is None:")
            lines += _bad(name, "NI", pad + "    ")
            lines.append(f"{pad}elif not {SF_LO} <= sf <= {SF_HI}:")
            lines += _bad(name, "INV", pad + "    ")
            lines.append(f"{pad}else:")
            pad += "    "
            lines.append(f"{pad}e = sf + {p.exponent}")
            m = "" if p.mantissa == 1 else f" * {p.mantissa!r}"
            lines.append(f"{pad}v = raw{m} / TEN[-e] if e < 0 else raw{m} * TEN[e]")
        else:
            lines.append(f"{pad}v = {_scaled(p.mantissa, p.exponent)}")
        for r in p.ratios:
            # rounded as a decimal meter reading: 123.4 * 80 is 9872, not 9872.000000000002
            lines.append(f"{pad}rv = ratios[{r}]")
            lines.append(f"{pad}v = round(v * rv, 9) if rv is not None else NAN")
        if p.lo is None and p.hi is None and not p.is_float and not p.ratios:
            lines.append(f"{pad}fields[{name}] = v")  # an integer, scaled: always finite
            continue
        lo = repr(p.lo) if p.lo is not None else "-1.7976931348623157e+308"
        hi = repr(p.hi) if p.hi is not None else "1.7976931348623157e+308"
        lines.append(f"{pad}if {lo} <= v <= {hi}:")  # NaN and infinities fall outside too
        lines.append(f"{pad}    fields[{name}] = v")
        lines.append(f"{pad}else:")
        lines += _bad(name, "INV", pad + "    ")
    lines.append("    return fields, q")
    source = "\n".join(lines) + "\n"
    namespace = dict(consts)
    exec(compile(source, "<profile value decoder>", "exec"), namespace)
    return namespace["decode_values"], source
