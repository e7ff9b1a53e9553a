"""DL/T 645 frames, computed by hand from the standard's layout (the working is in comments).

Layout: [FE..] 68 A0 A1 A2 A3 A4 A5 68 C L DATA CS 16; address lowest byte first; every data
byte + 33H on the wire; CS = sum of the bytes from the first 68 through the data, mod 256.
"""

from __future__ import annotations

import pytest

from collector.sources.dlt645.errors import BcdError, ChecksumError, Dlt645Error, FrameError
from collector.sources.dlt645.frame import (
    Frame,
    FrameBuffer,
    address_bytes,
    address_text,
    decode_frame,
    encode_frame,
)

# Read forward active total energy (DI 00 01 00 00) from meter 000012345678:
#   address A0..A5 = 78 56 34 12 00 00 (lowest byte first)
#   C = 11, L = 04, data DI0..DI3 = 00 00 01 00, + 33H each = 33 33 34 33
#   CS = 68+78+56+34+12+00+00+68 = 104+120+86+52+18+0+0+104 = 484
#        +11+04 = 484+17+4 = 505; +33+33+34+33 = 505+51+51+52+51 = 710; 710 mod 256 = 198 = C6
READ_ENERGY = bytes.fromhex("FEFEFEFE 68 785634120000 68 11 04 33333433 C6 16".replace(" ", ""))

# Its reply, 123456.78 kWh: C = 91, L = 08, data = DI (33 33 34 33) + value
#   value XXXXXX.XX: digits 12345678, bytes lowest first 78 56 34 12, + 33H = AB 89 67 45
#   CS = 484 (68, address, 68) + 91 = 629; + 08 = 637; + 33+33+34+33 (205) = 842
#        + AB+89+67+45 = 171+137+103+69 = 480 -> 1322; 1322 mod 256 = 42 = 2A
ENERGY_REPLY = bytes.fromhex("68 785634120000 68 91 08 33333433 AB896745 2A 16".replace(" ", ""))

# Read address to the wildcard: 68 AA*6 68 13 00, CS = 104*2 + 170*6 + 19 = 1247 -> 1247-1024 =
# 223 = DF. This is the frame meter-reading tools send to a single meter to learn its address.
READ_ADDRESS = bytes.fromhex("FEFEFEFE 68 AAAAAAAAAAAA 68 13 00 DF 16".replace(" ", ""))

# A trace of meter 000000000161 (address 61 01 00 00 00 00) reading 0.26 kWh forward energy:
#   request CS = 68+61+01+68+11+04+33+33+34+33 = 104+97+1+104+17+4+205 = 532 -> 532-512 = 20 = 14
#   reply value 000000.26 -> 26 00 00 00 -> 59 33 33 33;
#   CS = 104+97+1+104 + 91(145) + 08 + 205 + 89+51+51+51 = 906 -> 906-768 = 138 = 8A
TRACE_REQUEST = bytes.fromhex("FEFEFEFE 68 610100000000 68 11 04 33333433 14 16".replace(" ", ""))
TRACE_REPLY = bytes.fromhex("68 610100000000 68 91 08 33333433 59333333 8A 16".replace(" ", ""))


def test_read_request_is_the_hand_computed_frame() -> None:
    frame = Frame("000012345678", 0x11, bytes.fromhex("00000100"))
    assert encode_frame(frame) == READ_ENERGY
    assert encode_frame(frame, preamble=0) == READ_ENERGY[4:]
    assert encode_frame(Frame("000000000161", 0x11, bytes.fromhex("00000100"))) == TRACE_REQUEST


def test_read_address_request_to_the_wildcard() -> None:
    assert encode_frame(Frame("AAAAAAAAAAAA", 0x13)) == READ_ADDRESS


def test_reply_decodes_with_and_without_preamble() -> None:
    frame = decode_frame(ENERGY_REPLY)
    assert frame == Frame("000012345678", 0x91, bytes.fromhex("00000100 78563412"))
    assert frame.from_meter and not frame.is_error and not frame.more
    assert frame.function == 0x11
    assert decode_frame(b"\xfe\xfe" + ENERGY_REPLY) == frame
    assert decode_frame(TRACE_REPLY).data == bytes.fromhex("00000100 26000000")


def test_address_order_is_lowest_byte_first() -> None:
    assert address_bytes("000012345678") == bytes.fromhex("785634120000")
    assert address_text(bytes.fromhex("785634120000")) == "000012345678"
    assert address_bytes("AAAAAAAA5678") == bytes.fromhex("7856AAAAAAAA")
    assert address_text(bytes.fromhex("7856AAAAAAAA")) == "AAAAAAAA5678"
    for bad in ("12345678901", "00001234567X", "0000123456AB"):
        with pytest.raises(ValueError, match="address"):
            address_bytes(bad)


def test_bad_checksum_names_both_sums() -> None:
    raw = bytearray(ENERGY_REPLY)
    raw[-2] = 0x2B
    with pytest.raises(ChecksumError, match="checksum 2BH, the bytes sum to 2AH") as e:
        decode_frame(bytes(raw))
    assert (e.value.expected, e.value.got) == (0x2A, 0x2B)


def test_a_corrupted_data_byte_fails_the_checksum() -> None:
    raw = bytearray(ENERGY_REPLY)
    raw[15] ^= 0x01
    with pytest.raises(ChecksumError):
        decode_frame(bytes(raw))


@pytest.mark.parametrize(("raw", "message"), [
    (b"", "empty"),
    (b"\xfe\xfe", "only FE"),
    (b"\x00" + ENERGY_REPLY, "byte 0 is 00H, not the start byte"),
    (ENERGY_REPLY[:11], "truncated: 11 bytes"),
    (ENERGY_REPLY[:-3], "truncated: L says 8 data bytes, so 20 bytes from 68H to 16H; 17 arrived"),
    (ENERGY_REPLY[:7] + b"\x00" + ENERGY_REPLY[8:], "byte 7 is 00H, not the second 68H"),
    (ENERGY_REPLY[:-1] + b"\x17", "byte 19 is 17H, not the end byte 16H"),
    (ENERGY_REPLY + b"\x00", "1 bytes after the end byte"),
    (ENERGY_REPLY[:9] + b"\xc9" + ENERGY_REPLY[10:], "length byte 201 exceeds"),
])
def test_malformed_frames_are_frame_errors(raw: bytes, message: str) -> None:
    with pytest.raises(FrameError, match=message):
        decode_frame(raw)


def test_an_address_byte_that_is_not_bcd() -> None:
    # 68 7A ... : 7A is not two decimal digits (nor AAH)
    body = bytes.fromhex("68 7A5634120000 68 91 00".replace(" ", ""))
    raw = body + bytes((sum(body) & 0xFF, 0x16))
    with pytest.raises(BcdError, match="address: byte 0 is 7AH"):
        decode_frame(raw)


def test_buffer_reassembles_pieces_and_skips_noise() -> None:
    buf = FrameBuffer()
    stream = b"\x00\x13" + b"\xfe\xfe\xfe" + ENERGY_REPLY + READ_ADDRESS
    for i in range(0, len(stream), 3):
        buf.feed(stream[i : i + 3])
    frames = []
    while (f := buf.pop()) is not None:
        frames.append(f)
    # two noise bytes counted, FE preamble not
    assert [f.control for f in frames] == [0x91, 0x13]
    assert buf.noise == 2 and len(buf) == 0


def test_buffer_waits_for_the_rest_of_a_frame() -> None:
    buf = FrameBuffer()
    buf.feed(ENERGY_REPLY[:15])
    assert buf.pop() is None
    buf.feed(ENERGY_REPLY[15:])
    assert buf.pop() == decode_frame(ENERGY_REPLY)


def test_buffer_resyncs_after_a_false_start_byte() -> None:
    # a stray 68 before the frame: seven bytes on there is no second 68, so it is skipped
    buf = FrameBuffer()
    buf.feed(b"\x68\x01\x02" + ENERGY_REPLY)
    assert buf.pop() == decode_frame(ENERGY_REPLY)
    assert buf.noise == 3


def test_buffer_raises_a_bad_checksum_and_goes_on() -> None:
    bad = bytearray(ENERGY_REPLY)
    bad[-2] ^= 0xFF
    buf = FrameBuffer()
    buf.feed(bytes(bad) + ENERGY_REPLY)
    with pytest.raises(ChecksumError):
        buf.pop()
    assert buf.pop() == decode_frame(ENERGY_REPLY)


def test_every_codec_error_is_a_collector_decode_error() -> None:
    from collector.errors import DecodeError

    assert issubclass(Dlt645Error, DecodeError)
