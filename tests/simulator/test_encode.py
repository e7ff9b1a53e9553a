"""The simulator's own encoder against ``struct``, and the "not implemented" words it serves.

The collector's decoder is checked against the same packings in tests/collector/test_codec.py;
neither side imports the other, so a round trip between them crosses two codecs.
"""

from __future__ import annotations

import math
import struct

import pytest

from config.profiles import Point
from simulator.encode import encode_pattern, encode_text, encode_value, not_implemented_words


def words_of(fmt: str, value: float) -> list[int]:
    data = struct.pack(fmt, value)
    return [int.from_bytes(data[i : i + 2], "big") for i in range(0, len(data), 2)]


@pytest.mark.parametrize(("type_", "fmt", "value"), [
    ("uint16", ">H", 65000), ("int16", ">h", -1234), ("uint32", ">I", 4_000_000_000),
    ("int32", ">i", -70_000), ("acc32", ">I", 123_456_789), ("float32", ">f", -518000.0),
    ("uint64", ">Q", 2**40 + 5), ("int64", ">q", -(2**40)),
])
def test_big_word_order_is_the_plain_byte_order(type_: str, fmt: str, value: float) -> None:
    assert encode_value(type_, value) == words_of(fmt, value)


def test_little_word_order_puts_the_low_word_first() -> None:
    # Sungrow: 68900 W = 0x00010D24 is sent as 0x0D24, 0x0001
    assert encode_value("uint32", 68900, "little") == [0x0D24, 0x0001]
    assert encode_value("int32", -12, "little") == [0xFFF4, 0xFFFF]
    high, low = words_of(">f", 1523.25)
    assert encode_value("float32", 1523.25, "little") == [low, high]


def test_a_value_outside_the_type_is_refused_not_wrapped() -> None:
    with pytest.raises(struct.error):
        encode_value("uint16", 70000)
    with pytest.raises(struct.error):
        encode_value("int16", 40000)


def test_strings_pad_with_nul_and_cut_at_their_size() -> None:
    words = encode_text("SUN2000", 15)
    assert len(words) == 15 and words[:4] == [0x5355, 0x4E32, 0x3030, 0x3000] and \
        words[4:] == [0] * 11
    assert encode_text("ABCDEF", 2) == [0x4142, 0x4344]


def test_bit_patterns() -> None:
    assert encode_pattern(0x7FFFFFFF, 2) == [0x7FFF, 0xFFFF]
    assert encode_pattern(0x00010002, 2, "little") == [0x0002, 0x0001]


def _point(type_: str, size: int, sentinel: int | str | None = None) -> Point:
    return Point(name="x", address=0, size=size, type=type_, sentinel=sentinel)


def test_not_implemented_words() -> None:
    assert not_implemented_words(_point("int32", 2), "huawei") == [0x7FFF, 0xFFFF]
    assert not_implemented_words(_point("int16", 1), "sunspec") == [0x8000]
    high, low = struct.pack(">f", math.nan)[:2], struct.pack(">f", math.nan)[2:]
    assert not_implemented_words(_point("float32", 2), "none") == \
        [int.from_bytes(high, "big"), int.from_bytes(low, "big")]
    assert not_implemented_words(_point("uint16", 1), "none") == [0]
    # a point's own sentinel wins over its family's (a Sungrow MPPT the model lacks)
    assert not_implemented_words(_point("uint16", 1, 0xFFFF), "none") == [0xFFFF]
    assert not_implemented_words(_point("bitfield16", 1, "none"), "huawei") == [0]
