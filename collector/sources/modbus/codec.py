"""Pure register codecs: words <-> raw values, and the "not implemented" sentinels.

Raw values are what the register holds before any scale factor. A codec never guesses: a
sentinel is reported as such (``None``), and the caller decides the reading's quality.
"""

from __future__ import annotations

import math
import struct

SIGNED = {"int16": 16, "sunssf": 16, "int32": 32, "int64": 64}

# "Not implemented" values by family and type (SunSpec spec; Huawei interface definitions).
SENTINELS: dict[str, dict[str, tuple[int, ...]]] = {
    "sunspec": {
        "uint16": (0xFFFF,), "enum16": (0xFFFF,), "bitfield16": (0xFFFF,), "count": (0xFFFF,),
        "int16": (-0x8000,), "sunssf": (-0x8000,),
        "uint32": (0xFFFFFFFF,), "enum32": (0xFFFFFFFF,), "bitfield32": (0xFFFFFFFF,),
        "acc32": (0,), "int32": (-0x80000000,),
        "uint64": (0xFFFFFFFFFFFFFFFF,), "acc64": (0,), "int64": (-0x8000000000000000,),
    },
    "huawei": {
        "uint16": (0xFFFF,), "enum16": (0xFFFF,), "bitfield16": (0xFFFF,),
        "int16": (0x7FFF,), "uint32": (0xFFFFFFFF,), "acc32": (0xFFFFFFFF,),
        "bitfield32": (0xFFFFFFFF,), "int32": (0x7FFFFFFF,),
    },
    "none": {},
}


def words_to_int(words: list[int] | tuple[int, ...], word_order: str = "big") -> int:
    if word_order == "little":
        words = list(reversed(words))
    value = 0
    for w in words:
        value = (value << 16) | (w & 0xFFFF)
    return value


def int_to_words(value: int, size: int, word_order: str = "big") -> list[int]:
    value &= (1 << (16 * size)) - 1
    words = [(value >> (16 * (size - 1 - i))) & 0xFFFF for i in range(size)]
    return list(reversed(words)) if word_order == "little" else words


def decode_raw(type_: str, words: list[int] | tuple[int, ...], word_order: str = "big"
               ) -> int | float | str:
    """Words -> the raw number (or text) the register holds."""
    if type_ == "string":
        data = b"".join(w.to_bytes(2, "big") for w in words)
        return data.split(b"\x00", 1)[0].decode("utf-8", errors="replace").strip()
    if type_ == "float32":
        return struct.unpack(">f", words_to_int(words, word_order).to_bytes(4, "big"))[0]
    value = words_to_int(words, word_order)
    bits = SIGNED.get(type_)
    if bits and value >= 1 << (bits - 1):
        value -= 1 << bits
    return value


def encode_raw(type_: str, value: int | float | str, size: int, word_order: str = "big"
               ) -> list[int]:
    """The inverse of decode_raw (used by the simulator)."""
    if type_ == "string":
        data = str(value).encode("utf-8")[: size * 2].ljust(size * 2, b"\x00")
        return [int.from_bytes(data[i : i + 2], "big") for i in range(0, size * 2, 2)]
    if type_ == "float32":
        return int_to_words(int.from_bytes(struct.pack(">f", float(value)), "big"), 2, word_order)
    return int_to_words(int(value), size, word_order)


def is_sentinel(family: str, type_: str, raw: int | float | str,
                override: int | None = None) -> bool:
    if isinstance(raw, float):
        return math.isnan(raw)
    if isinstance(raw, str):
        return raw == ""
    if override is not None:
        return raw == override
    return raw in SENTINELS.get(family, {}).get(type_, ())


def not_implemented_value(family: str, type_: str, size: int) -> list[int]:
    """Words a device serves for a point it does not implement (simulator)."""
    if type_ == "float32":
        return encode_raw("float32", math.nan, 2)
    if type_ == "string":
        return [0] * size
    options = SENTINELS.get(family, {}).get(type_)
    return int_to_words(options[0], size) if options else [0] * size
