"""Codecs: words <-> raw values, word order, and each family's "not implemented" sentinels."""

from __future__ import annotations

import math
import struct

import pytest

from collector.sources.modbus.codec import (
    decode_raw,
    encode_raw,
    is_sentinel,
    not_implemented_value,
)


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
    assert encode_raw(type_, value, len(words)) == words


def test_little_word_order_puts_the_low_word_first() -> None:
    # Sungrow: 68900 W = 0x00010D24 is sent as 0x0D24, 0x0001
    assert decode_raw("uint32", [0x0D24, 0x0001], "little") == 68900
    assert encode_raw("uint32", 68900, 2, "little") == [0x0D24, 0x0001]
    assert decode_raw("int32", [0xFFF4, 0xFFFF], "little") == -12
    high, low = words_of(">f", 1523.25)
    assert decode_raw("float32", [low, high], "little") == 1523.25


def test_strings_stop_at_nul_and_pad_on_encode() -> None:
    words = encode_raw("string", "SUN2000", 15)
    assert len(words) == 15 and words[0] == 0x5355  # "SU"
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


def test_not_implemented_words() -> None:
    assert not_implemented_value("huawei", "int32", 2) == [0x7FFF, 0xFFFF]
    assert not_implemented_value("sunspec", "int16", 1) == [0x8000]
    assert math.isnan(decode_raw("float32", not_implemented_value("none", "float32", 2)))  # type: ignore[arg-type]
    assert not_implemented_value("none", "uint16", 1) == [0]
