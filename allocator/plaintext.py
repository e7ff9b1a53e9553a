"""Numbers typed by people, read strictly: plain decimal notation, a fixed number of places.

Shared by the CSV inputs (payments, the grid company's statement): ASCII digits and at most one
point; no sign, exponent, digit separator or full-width digit. Never rounded, never a float.
"""

from __future__ import annotations

import re

_PLAIN_DECIMAL = re.compile(r"[0-9]+(\.[0-9]+)?", re.ASCII)


def plain_units(text: str, places: int, what: str, max_digits: int = 15) -> int:
    """``text`` as an integer count of 10^-places; ValueError (naming ``what``) otherwise."""
    cell = text.strip()
    if not _PLAIN_DECIMAL.fullmatch(cell):
        raise ValueError(f"{what} {text!r} must be a plain decimal number >= 0 (ASCII digits "
                         f"and one point; no sign, exponent, separator or full-width digit)")
    whole, _, frac = cell.partition(".")
    if len(frac.rstrip("0")) > places:
        raise ValueError(f"{what} {text!r} has more than {places} decimals")
    if len(whole.lstrip("0")) + places > max_digits:
        raise ValueError(f"{what} {text!r} is too large (at most {max_digits - places} digits "
                         f"before the point)")
    return int(whole) * 10**places + int((frac + "0" * places)[:places] or 0)
