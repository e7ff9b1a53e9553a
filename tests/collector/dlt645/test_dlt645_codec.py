"""DL/T 645 requests, reply checks and values, against frames worked out by hand."""

from __future__ import annotations

from datetime import date, time

import pytest

from collector.sources.dlt645.codec import (
    Decoder,
    address_fits,
    address_reply,
    address_request,
    decoders,
    followup_request,
    read_reply,
    read_request,
)
from collector.sources.dlt645.errors import (
    AddressMismatch,
    BadValue,
    BcdError,
    ControlMismatch,
    DiMismatch,
    ErrorReply,
    LengthMismatch,
    error_meanings,
)
from collector.sources.dlt645.frame import Frame, decode_frame
from config.dlt645_identifiers import load_catalog

CATALOG = load_catalog()
DECODERS = decoders(CATALOG)
METER = "000012345678"
# 68 + 78 56 34 12 00 00 + 68 = 104+120+86+52+18+0+0+104 = 484: every frame to or from METER
# starts its checksum with 484


def frame(hex_text: str) -> Frame:
    return decode_frame(bytes.fromhex(hex_text.replace(" ", "")))


def plain(di: int, value: bytes) -> Frame:
    """A normal read reply from METER carrying ``value`` (plain bytes) for ``di``."""
    return Frame(METER, 0x91, di.to_bytes(4, "little") + value)


def test_read_request_frames() -> None:
    # see test_dlt645_frames: CS C6 worked out there
    assert read_request(METER, 0x00010000).hex(" ").upper() == (
        "FE FE FE FE 68 78 56 34 12 00 00 68 11 04 33 33 34 33 C6 16")
    # follow-up of the forward energy block, sequence 1: C = 12, L = 05
    #   data DI0..DI3 = 00 FF 01 00, SEQ = 01; + 33H: 33 32 34 33 34
    #   CS = 484 + 12 (18) + 05 = 507; + 51+50+52+51+52 (256) = 763; 763-512 = 251 = FB
    assert followup_request(METER, 0x0001FF00, 1, preamble=0).hex(" ").upper() == (
        "68 78 56 34 12 00 00 68 12 05 33 32 34 33 34 FB 16")
    assert address_request(preamble=2).hex(" ").upper() == (
        "FE FE 68 AA AA AA AA AA AA 68 13 00 DF 16")


def test_energy_reply_decodes_to_kwh() -> None:
    # the reply worked out in test_dlt645_frames: 123456.78 kWh
    reply = frame("68 785634120000 68 91 08 33333433 AB896745 2A 16")
    part = read_reply(reply, METER, 0x00010000)
    assert part.payload == bytes.fromhex("78563412") and not part.more
    (v,) = DECODERS[0x00010000].decode(part.payload)
    assert v.raw == 12345678 and v.value == pytest.approx(123456.78)
    assert v.ident.field == "e_forward_kwh" and v.ident.counter == "lifetime"
    assert v.ident.wrap == 1_000_000


def test_signed_power_and_current() -> None:
    # -12.3456 kW (XX.XXXX, 3 bytes): digits 123456 -> 56 34 12, sign bit on the top byte:
    # 12 | 80 = 92 -> 56 34 92; the field is in W: -12345.6
    (p,) = DECODERS[0x02030000].decode(bytes.fromhex("563492"))
    assert p.raw == -123456 and p.value == pytest.approx(-12345.6)
    # -1.5 A (XXX.XXX): digits 001500 -> 00 15 00, sign on the top byte -> 00 15 80
    (i,) = DECODERS[0x02020100].decode(bytes.fromhex("001580"))
    assert i.value == pytest.approx(-1.5)
    # unsigned voltage 230.1 V (XXX.X): digits 2301 -> 01 23
    (u,) = DECODERS[0x02010100].decode(bytes.fromhex("0123"))
    assert u.value == pytest.approx(230.1)
    # a power factor of -0.985 (X.XXX): 0985 -> 85 09, signed -> 85 89
    (pf,) = DECODERS[0x02060000].decode(bytes.fromhex("8589"))
    assert pf.value == pytest.approx(-0.985)


def test_date_and_time() -> None:
    # 2020-06-21, a Sunday (WW = 00): YYMMDDWW 20 06 21 00, lowest byte first 00 21 06 20
    (d,) = DECODERS[0x04000101].decode(bytes.fromhex("00210620"))
    assert d.raw == date(2020, 6, 21) and d.value is None
    # 12:34:56: hhmmss 12 34 56, lowest first 56 34 12
    (t,) = DECODERS[0x04000102].decode(bytes.fromhex("563412"))
    assert t.raw == time(12, 34, 56)
    with pytest.raises(BadValue, match="04 00 01 01: 20130200 is no date"):
        DECODERS[0x04000101].decode(bytes.fromhex("00021320"))  # month 13
    with pytest.raises(BadValue, match="no time"):
        DECODERS[0x04000102].decode(bytes.fromhex("000025"))  # 25 o'clock


def test_digits_keep_leading_zeros() -> None:
    (a,) = DECODERS[0x04000401].decode(bytes.fromhex("785634120000"))
    assert a.raw == "000012345678"
    (ct,) = DECODERS[0x04000306].decode(bytes.fromhex("800000"))  # CT ratio 80 (400/5 A)
    assert ct.value == 80.0


def test_energy_block_has_total_and_tariffs() -> None:
    # total 1000.00, tariffs 100.00, 200.00, 300.00, 400.00 kWh: 00100000 -> 00 00 10 00 ...
    payload = bytes.fromhex("00001000" "00000100" "00000200" "00000300" "00000400")
    values = DECODERS[0x0001FF00].decode(payload)
    assert [v.ident.field for v in values] == [
        "e_forward_kwh", "e_forward_t1_kwh", "e_forward_t2_kwh", "e_forward_t3_kwh",
        "e_forward_t4_kwh"]
    assert [v.value for v in values] == [1000.0, 100.0, 200.0, 300.0, 400.0]
    # a meter with two tariffs answers three values; one with eight answers nine: the names
    # we have are used, the rest left out
    assert len(DECODERS[0x0001FF00].decode(payload[:12])) == 3
    assert len(DECODERS[0x0001FF00].decode(payload + payload[:16])) == 5


def test_lengths_that_do_not_fit_the_format() -> None:
    with pytest.raises(LengthMismatch, match=r"00 01 00 00: 3 bytes, XXXXXX\.XX takes 4"):
        DECODERS[0x00010000].decode(b"\x00\x00\x00")
    with pytest.raises(LengthMismatch, match="whole number of 4-byte values"):
        DECODERS[0x0001FF00].decode(b"\x00" * 6)
    with pytest.raises(LengthMismatch):
        DECODERS[0x0001FF00].decode(b"")


def test_a_nibble_above_nine_names_the_identifier_and_byte() -> None:
    with pytest.raises(BcdError, match="00 01 00 00: byte 2 is 3AH"):
        DECODERS[0x00010000].decode(bytes.fromhex("00003A00"))


def test_error_reply_carries_its_meaning() -> None:
    # D1, L = 01, error byte 02 (no requested data) + 33H = 35
    #   CS = 484 + D1 (209) + 01 + 35 (53) = 747; 747 - 512 = 235 = EB
    reply = frame("68 785634120000 68 D1 01 35 EB 16")
    with pytest.raises(ErrorReply, match="no requested data") as e:
        read_reply(reply, METER, 0x00010000)
    assert e.value.code == 0x02 and e.value.di == 0x00010000
    assert "reading 00010000" in str(e.value)
    assert error_meanings(0x05) == ["other error (其他错误)",
                                    "wrong password or unauthorised (密码错/未授权)"]
    assert error_meanings(0x00) == ["no cause given (error byte 00)"]
    assert error_meanings(0x80) == ["reserved bit 7 set"]


def test_reply_from_another_meter_or_for_another_di() -> None:
    reply = plain(0x00010000, bytes(4))
    with pytest.raises(AddressMismatch, match="reply from meter 000012345678, asked 000012345679"):
        read_reply(reply, "000012345679", 0x00010000)
    with pytest.raises(DiMismatch, match="reply for data identifier 00010000, asked 00020000"):
        read_reply(reply, METER, 0x00020000)
    # our own request echoed back by a gateway is no reply
    with pytest.raises(ControlMismatch, match="control code 11H"):
        read_reply(Frame(METER, 0x11, reply.data), METER, 0x00010000)
    with pytest.raises(ControlMismatch, match="control code 93H"):
        read_reply(Frame(METER, 0x93, reply.data), METER, 0x00010000)
    with pytest.raises(LengthMismatch):
        read_reply(Frame(METER, 0x91, b"\x00\x00"), METER, 0x00010000)


def test_wildcard_patterns() -> None:
    assert address_fits("AAAAAAAAAAAA", METER)
    assert address_fits("AAAAAAAA5678", METER)
    assert not address_fits("AAAAAAAA5679", METER)
    assert read_reply(plain(0x00010000, bytes(4)), "AAAAAAAAAAAA", 0x00010000).payload == bytes(4)


def test_followup_reply_strips_its_sequence_number() -> None:
    first = Frame(METER, 0xB1, (0x0001FF00).to_bytes(4, "little") + bytes(8))
    part = read_reply(first, METER, 0x0001FF00)
    assert part.more and len(part.payload) == 8
    last = Frame(METER, 0x92, (0x0001FF00).to_bytes(4, "little") + bytes(12) + b"\x01")
    part = read_reply(last, METER, 0x0001FF00, followup=True)
    assert not part.more and part.seq == 1 and len(part.payload) == 12


def test_read_address_reply() -> None:
    # 93, L = 06, data = the address bytes 78 56 34 12 00 00 + 33H = AB 89 67 45 33 33
    #   CS = 484 + 93 (147) + 06 = 637; + 171+137+103+69+51+51 (582) = 1219; -1024 = 195 = C3
    reply = frame("68 785634120000 68 93 06 AB8967453333 C3 16")
    assert address_reply(reply) == METER
    lying = Frame(METER, 0x93, bytes.fromhex("795634120000"))
    with pytest.raises(AddressMismatch):
        address_reply(lying)


def test_every_identifier_has_a_decoder_and_blocks_know_their_members() -> None:
    assert set(DECODERS) == set(CATALOG.identifiers)
    block = DECODERS[0x0203FF00]
    assert isinstance(block, Decoder)
    assert [m.field for m in block.members] == ["p_w", "p_l1_w", "p_l2_w", "p_l3_w"]
