"""The simulator's own register encoding: values -> Modbus words, with ``struct``.

Written apart from the collector's decoder on purpose: the collector is checked against the
simulator, so a round trip through one shared codec would pass a symmetric bug (a word order
swapped both ways, a sign read as it was written). Here every type is packed by the ``struct``
format that the vendor documents name (U16 ``>H``, I32 ``>i``, IEEE-754 ``>f`` ...), big-endian
bytes in each word, and the word order reversed afterwards for devices that send the low word
first. The "not implemented" patterns come from the shared data table (``config.sentinels``).
"""

from __future__ import annotations

import math
import struct

from config.profiles import Point
from config.sentinels import sentinel_table

# register type -> struct format of its bytes, most significant byte first
FORMATS = {
    "uint16": "H", "enum16": "H", "bitfield16": "H", "count": "H", "pad": "H",
    "int16": "h", "sunssf": "h",
    "uint32": "I", "enum32": "I", "bitfield32": "I", "acc32": "I",
    "int32": "i", "float32": "f",
    "uint64": "Q", "acc64": "Q", "int64": "q",
}
# the unsigned format of the same width, for bit patterns (sentinels, bitfields, raw writes)
PATTERN_FORMATS = {1: "H", 2: "I", 4: "Q"}


def _words(data: bytes, word_order: str) -> list[int]:
    words = [int.from_bytes(data[i : i + 2], "big") for i in range(0, len(data), 2)]
    return words[::-1] if word_order == "little" else words


def encode_text(text: str, size: int) -> list[int]:
    """A string register run: UTF-8 bytes, NUL-padded (or cut) to ``size`` words."""
    data = text.encode("utf-8")[: size * 2].ljust(size * 2, b"\x00")
    return _words(data, "big")


def encode_value(type_: str, value: float, word_order: str = "big") -> list[int]:
    """A number in the type's own range as the device sends it (struct refuses overflow)."""
    fmt = FORMATS[type_]
    packed = struct.pack(">" + fmt, float(value) if fmt == "f" else int(value))
    return _words(packed, word_order)


def encode_pattern(pattern: int, size: int, word_order: str = "big") -> list[int]:
    """A bit pattern (0 <= pattern < 2**(16*size)) as ``size`` words."""
    return _words(struct.pack(">" + PATTERN_FORMATS[size], pattern), word_order)


class PointPacker:
    """One point's encoder, built once: ``words(raw)`` packs a value already in its type's
    range (the image clamps first) with a prebuilt ``struct.Struct`` and splits it into words."""

    __slots__ = ("_pack", "_split", "little")

    def __init__(self, type_: str, size: int, word_order: str) -> None:
        self._pack = struct.Struct(">" + FORMATS[type_]).pack
        self._split = struct.Struct(">" + "H" * size).unpack
        self.little = word_order == "little"

    def words(self, value: float) -> list[int]:
        words = list(self._split(self._pack(value)))
        return words[::-1] if self.little else words


def not_implemented_words(p: Point, family: str) -> list[int]:
    """What a device serves for ``p`` when it has no value: the point's own sentinel, else its
    family's, else NaN for a float and NULs for a string; 0 where no sentinel exists at all."""
    if p.type == "string":
        return [0] * p.size
    if p.type == "float32":
        return encode_value("float32", math.nan, p.word_order)
    if isinstance(p.sentinel, int):
        return encode_pattern(p.sentinel, p.size, p.word_order)
    patterns = () if p.sentinel == "none" else sentinel_table().patterns(family, p.type)
    return encode_pattern(patterns[0], p.size, p.word_order) if patterns else [0] * p.size
