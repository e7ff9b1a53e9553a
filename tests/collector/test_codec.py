"""The collector's codec: words -> raw values, word order, and each family's sentinels.

Encoding is the simulator's business (tests/simulator/test_encode.py checks it against the same
``struct`` packings), so each side is checked against ``struct`` on its own.
"""

from __future__ import annotations

import math
import struct

import pytest

from collector.sources.modbus.codec import decode_raw, is_sentinel


def words_of(fmt: str, value: float) -> list[int]:
    data = struct.pack(fmt, value)
    return [int.from_bytes(data[i : i + 2], "big") for i in range(0, len(data), 2)]


@pytest.mark.parametrize(("type_", "fmt", "value"), [
    ("uint16", ">H", 65000), ("int16", ">h", -1234), ("uint32", ">I", 4_000_000_000),
    ("int32", ">i", -70_000), ("acc32", ">I", 123_456_789), ("float32", ">f", -518000.0),
    ("uint64", ">Q", 2**40 + 5), ("int64", ">q", -(2**40)),
])
def test_big_word_order_is_the_plain_byte_order(type_: str, fmt: str, value: float) -> None:
    words = words_of(fmt, value)
    assert decode_raw(type_, words) == value


def test_little_word_order_puts_the_low_word_first() -> None:
    # Sungrow: 68900 W = 0x00010D24 is sent as 0x0D24, 0x0001
    assert decode_raw("uint32", [0x0D24, 0x0001], "little") == 68900
    assert decode_raw("int32", [0xFFF4, 0xFFFF], "little") == -12
    high, low = words_of(">f", 1523.25)
    assert decode_raw("float32", [low, high], "little") == 1523.25


def test_strings_stop_at_nul() -> None:
    words = [0x5355, 0x4E32, 0x3030, 0x3000] + [0] * 11  # "SUN2000", NUL-padded to 15 words
    assert decode_raw("string", words) == "SUN2000"


@pytest.mark.parametrize(("family", "type_", "raw"), [
    ("sunspec", "uint16", 0xFFFF), ("sunspec", "enum16", 0xFFFF), ("sunspec", "bitfield16", 0xFFFF),
    ("sunspec", "int16", -0x8000), ("sunspec", "sunssf", -0x8000),
    ("sunspec", "uint32", 0xFFFFFFFF), ("sunspec", "int32", -0x80000000), ("sunspec", "acc32", 0),
    ("huawei", "uint16", 0xFFFF), ("huawei", "int16", 0x7FFF), ("huawei", "uint32", 0xFFFFFFFF),
    ("huawei", "int32", 0x7FFFFFFF),
])
def test_sentinels(family: str, type_: str, raw: int) -> None:
    assert is_sentinel(family, type_, raw)
    assert not is_sentinel(family, type_, 1)


def test_nan_is_not_implemented_in_every_family_and_none_has_no_integer_sentinel() -> None:
    assert is_sentinel("none", "float32", math.nan)
    assert not is_sentinel("none", "uint16", 0xFFFF)
    assert not is_sentinel("none", "uint16", 0)
    assert is_sentinel("none", "uint16", 7, override=7)


def test_a_point_can_override_its_family_or_declare_every_value_valid() -> None:
    # a signed raw matches the pattern the document prints (0x8000 is -32768 as an int16)
    assert is_sentinel("none", "int16", -0x8000, override=0x8000)
    assert not is_sentinel("huawei", "bitfield16", 0xFFFF, override="none")  # all 16 alarms
    assert is_sentinel("huawei", "bitfield16", 0xFFFF)
