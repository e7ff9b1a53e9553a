"""Pure register decoding: words -> raw values, and the "not implemented" check.

Raw values are what the register holds before any scale factor. A codec never guesses: a
sentinel is reported as such, and the caller decides the reading's quality. Which words are
sentinels is data (``config.sentinels``), shared with the simulator; the simulator encodes with
code of its own (``simulator.encode``), so a bug here cannot hide behind a matching one there.
"""

from __future__ import annotations

import math
import struct

from config.profile_points import TYPE_WORDS
from config.sentinels import sentinel_table

SIGNED = {"int16": 16, "sunssf": 16, "int32": 32, "int64": 64}
# the register pattern of a raw value: signed raws compare by their two's complement bits
_MASK = {t: (1 << (16 * n)) - 1 for t, n in TYPE_WORDS.items()}


def words_to_int(words: list[int] | tuple[int, ...], word_order: str = "big") -> int:
    if word_order == "little":
        words = list(reversed(words))
    value = 0
    for w in words:
        value = (value << 16) | (w & 0xFFFF)
    return value


def decode_raw(type_: str, words: list[int] | tuple[int, ...], word_order: str = "big"
               ) -> int | float | str:
    """Words -> the raw number (or text) the register holds."""
    if type_ == "string":
        data = b"".join(w.to_bytes(2, "big") for w in words)
        return data.split(b"\x00", 1)[0].decode("utf-8", errors="replace").strip()
    if type_ == "float32":
        return struct.unpack(">f", words_to_int(words, word_order).to_bytes(4, "big"))[0]
    return _signed(type_, words_to_int(words, word_order))


def _signed(type_: str, value: int) -> int:
    """An unsigned register value as its type reads it (two's complement for signed types)."""
    bits = SIGNED.get(type_)
    if bits and value >= 1 << (bits - 1):
        value -= 1 << bits
    return value


def is_sentinel(family: str, type_: str, raw: int | float | str,
                override: int | str | None = None) -> bool:
    """Whether ``raw`` is "not implemented": NaN, an empty string, or a table pattern.

    ``override`` is the point's own ``sentinel:``: a pattern that replaces the family's, or
    ``"none"`` when every value of the register is valid.
    """
    if isinstance(raw, float):
        return math.isnan(raw)
    if isinstance(raw, str):
        return raw == ""
    if override == "none":
        return False
    mask = _MASK.get(type_, -1)
    if isinstance(override, int):
        return raw & mask == override & mask
    return raw & mask in sentinel_table().patterns(family, type_)


def sentinel_raws(family: str, type_: str, override: int | str | None = None) -> frozenset[int]:
    """The integer raw values (as ``decode_raw`` returns them) that ``is_sentinel`` calls "not
    implemented", for decoders that compare raw values directly. A float32's NaN is not in
    it: NaN never equals anything, the caller tests it itself."""
    if override == "none" or type_ in ("float32", "string"):
        return frozenset()
    patterns = (override,) if isinstance(override, int) else \
        sentinel_table().patterns(family, type_)
    mask = _MASK[type_]
    return frozenset(_signed(type_, pattern & mask) for pattern in patterns)
