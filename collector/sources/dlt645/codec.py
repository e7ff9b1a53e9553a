"""DL/T 645-2007 requests, replies and values, on top of ``frame``.

Requests: read data (C = 11H, data = DI0..DI3), read follow-up data (12H, DI and the frame
sequence number), read address (13H, no data, usually to the wildcard address).

Replies are checked against the request before their data is believed: the address echoed
must be the one asked (or fit the wildcard pattern asked), the control code must answer the
request's function, and a read reply must echo the data identifier asked. An error reply
(bit 6 of C: D1H, D2H) raises ``ErrorReply`` with the meaning of its error byte. A reply with
bit 5 set (B1H, B2H) has follow-up frames: ask for them with ``followup_request`` and the next
sequence number; a follow-up reply carries its sequence number as its last data byte.

Values are decoded by one ``Decoder`` per data identifier, built once from the catalog.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, time

from collector.sources.dlt645.bcd import bcd_digits
from collector.sources.dlt645.errors import (
    AddressMismatch,
    BadValue,
    ControlMismatch,
    DiMismatch,
    ErrorReply,
    LengthMismatch,
)
from collector.sources.dlt645.frame import (
    READ_ADDRESS,
    READ_DATA,
    READ_FOLLOWUP,
    WILDCARD,
    Frame,
    address_bytes,
    encode_frame,
)
from config.dlt645_identifiers import Catalog, Identifier


def di_bytes(di: int) -> bytes:
    """DI0 first, as the standard sends a data identifier."""
    return di.to_bytes(4, "little")


def read_request(address: str, di: int, preamble: int = 4) -> bytes:
    return encode_frame(Frame(address, READ_DATA, di_bytes(di)), preamble)


def followup_request(address: str, di: int, seq: int, preamble: int = 4) -> bytes:
    return encode_frame(Frame(address, READ_FOLLOWUP, di_bytes(di) + bytes((seq & 0xFF,))),
                        preamble)


def address_request(address: str = WILDCARD, preamble: int = 4) -> bytes:
    """Read address (13H). Every meter whose address fits the pattern answers; with more than
    one on the bus their answers collide, so the full wildcard suits a single meter."""
    return encode_frame(Frame(address, READ_ADDRESS), preamble)


def address_fits(pattern: str, address: str) -> bool:
    """Whether ``address`` is reached by ``pattern`` (AA bytes match any byte)."""
    return all(p.upper() == "AA" or p == a for p, a in
               zip(_pairs(pattern), _pairs(address), strict=True))


def _pairs(address: str) -> list[str]:
    address_bytes(address)  # ValueError on a malformed address
    return [address[i : i + 2] for i in range(0, 12, 2)]


def _check_reply(frame: Frame, address: str, function: int) -> None:
    if not frame.from_meter or frame.function != function:
        raise ControlMismatch(f"a reply to {function:02X}H ({function | 0x80:02X}H)",
                              frame.control)
    if not address_fits(address, frame.address):
        raise AddressMismatch(address, frame.address)
    if frame.is_error:
        code = frame.data[0] if frame.data else 0
        raise ErrorReply(frame.address, code)


@dataclass(frozen=True, slots=True)
class ReadPart:
    """One reply frame's share of a read: the value bytes (DI removed), whether more follow."""

    payload: bytes
    more: bool
    seq: int | None = None  # the sequence number of a follow-up reply


def read_reply(frame: Frame, address: str, di: int, followup: bool = False) -> ReadPart:
    """Check ``frame`` answers a read (or follow-up read) of ``di`` at ``address``."""
    try:
        _check_reply(frame, address, READ_FOLLOWUP if followup else READ_DATA)
    except ErrorReply as e:
        raise ErrorReply(e.address, e.code, di) from None
    data = frame.data
    minimum = 5 if followup else 4
    if len(data) < minimum:
        raise LengthMismatch(f"reply for {di:08X} has {len(data)} data bytes, "
                             f"at least {minimum} expected")
    got = int.from_bytes(data[:4], "little")
    if got != di:
        raise DiMismatch(di, got)
    if followup:
        return ReadPart(data[4:-1], frame.more, data[-1])
    return ReadPart(data[4:], frame.more)


def address_reply(frame: Frame, asked: str = WILDCARD) -> str:
    """The address a read-address reply (93H) announces, checked against the pattern asked."""
    _check_reply(frame, asked, READ_ADDRESS)
    if len(frame.data) != 6:
        raise LengthMismatch(f"read-address reply has {len(frame.data)} data bytes, not 6")
    announced = "".join(bcd_digits(frame.data[i : i + 1], "address")[1]
                        for i in range(5, -1, -1))
    if announced != frame.address:
        raise AddressMismatch(frame.address, announced)
    return announced


@dataclass(frozen=True, slots=True)
class Value:
    """One decoded value: what the meter sent and what it means in the field's unit."""

    ident: Identifier
    raw: int | str | date | time  # the signed BCD number, a digit string, a date or a time
    value: float | None  # numbers and digit strings scaled to the field's unit; else None


class Decoder:
    """Decodes one data identifier's value bytes; built once per identifier."""

    __slots__ = ("_divisors", "_kind", "ident", "members")

    def __init__(self, ident: Identifier, catalog: Catalog) -> None:
        self.ident = ident
        self.members = tuple(catalog.identifiers[m] for m in ident.members) or (ident,)
        self._kind = ident.kind
        self._divisors = tuple(10**m.decimals / m.scale for m in self.members)

    def decode(self, payload: bytes) -> list[Value]:
        """The values of ``payload``: one, or a block's members in order.

        A block may be shorter than its member list (a meter with fewer tariffs) or longer (a
        meter with more, whose extra values we have no name for and leave out).
        """
        size = self.ident.size
        if self.ident.is_block:
            if not payload or len(payload) % size:
                raise LengthMismatch(f"{self.ident.text}: {len(payload)} bytes is not a "
                                     f"whole number of {size}-byte values")
        elif len(payload) != size:
            raise LengthMismatch(f"{self.ident.text}: {len(payload)} bytes, "
                                 f"{self.ident.format} takes {size}")
        count = min(len(payload) // size, len(self.members))
        return [self._one(i, payload[i * size : (i + 1) * size]) for i in range(count)]

    def _one(self, i: int, data: bytes) -> Value:
        ident = self.members[i]
        where = ident.text
        kind = self._kind
        if kind == "number":
            negative, digits = bcd_digits(data, where, ident.signed)
            raw = -int(digits) if negative else int(digits)
            return Value(ident, raw, raw / self._divisors[i])
        if kind == "digits":
            digits = bcd_digits(data, where)[1]
            return Value(ident, digits, float(int(digits)))
        digits = bcd_digits(data, where)[1]
        if kind == "date":
            return Value(ident, _date(where, digits), None)
        return Value(ident, _time(where, digits), None)


def _date(where: str, digits: str) -> date:
    # YYMMDDWW, weekday 0 = Sunday; the years a meter can show are 2000-2099
    yy, mm, dd, ww = (int(digits[i : i + 2]) for i in range(0, 8, 2))
    if not 1 <= mm <= 12 or not 1 <= dd <= calendar.monthrange(2000 + yy, mm)[1] or ww > 6:
        raise BadValue(f"{where}: {digits} is no date (YYMMDDWW)")
    return date(2000 + yy, mm, dd)


def _time(where: str, digits: str) -> time:
    hh, mi, ss = (int(digits[i : i + 2]) for i in range(0, 6, 2))
    if hh > 23 or mi > 59 or ss > 59:
        raise BadValue(f"{where}: {digits} is no time (hhmmss)")
    return time(hh, mi, ss)


def decoders(catalog: Catalog) -> dict[int, Decoder]:
    """One decoder per identifier of the catalog, blocks included."""
    return {di: Decoder(ident, catalog) for di, ident in catalog.identifiers.items()}
