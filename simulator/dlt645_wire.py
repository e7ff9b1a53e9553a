"""The simulated meters' side of DL/T 645-2007: frames and values, written from the standard.

The simulator is the party the collector is checked against, so nothing here comes from the
collector: a shared bug would pass every round trip. The layout, as the standard gives it:
``[FE..] 68 A0..A5 68 C L DATA CS 16``, the address lowest byte first, every data byte sent
as (byte + 33H) mod 256, CS the sum mod 256 from the first 68 through the data, values in
BCD lowest byte first, the sign of a signed value in bit 7 of its highest byte.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from config.dlt645_identifiers import Identifier

HEAD = 0x68
TAIL = 0x16
SHIFT = 0x33


@dataclass(frozen=True, slots=True)
class Request:
    address: bytes  # A0..A5 as received
    control: int
    data: bytes  # with the 33H shift undone


def _checksum(body: bytes | bytearray) -> int:
    total = 0
    for b in body:
        total += b
    return total % 256


def meter_frame(address: bytes, control: int, data: bytes, preamble: int = 0) -> bytes:
    """A frame as a meter sends it."""
    body = bytearray([HEAD])
    body.extend(address)
    body.append(HEAD)
    body.append(control)
    body.append(len(data))
    for b in data:
        body.append((b + SHIFT) % 256)
    body.append(_checksum(body))
    body.append(TAIL)
    return b"\xfe" * preamble + bytes(body)


class RequestReader:
    """What a meter's UART makes of the bytes on the bus: whole frames with a good checksum.

    A meter ignores anything else (it waits for the next start byte), as real meters do with
    line noise; garbled frames are simply not answered.
    """

    def __init__(self) -> None:
        self._pending = bytearray()

    def push(self, data: bytes) -> list[Request]:
        self._pending.extend(data)
        found: list[Request] = []
        buf = self._pending
        while True:
            try:
                start = buf.index(HEAD)
            except ValueError:
                buf.clear()
                return found
            del buf[:start]
            if len(buf) < 12:
                return found
            n = buf[9]
            if buf[7] != HEAD or n > 200:
                del buf[0]
                continue
            if len(buf) < 12 + n:
                return found
            frame = bytes(buf[: 12 + n])
            if frame[-1] != TAIL or _checksum(frame[: 10 + n]) != frame[10 + n]:
                del buf[0]
                continue
            del buf[: 12 + n]
            found.append(Request(frame[1:7], frame[8],
                                 bytes((b - SHIFT) % 256 for b in frame[10 : 10 + n])))


def address_raw(address: str) -> bytes:
    """'000012345678' (nameplate order) -> A0..A5 = 78 56 34 12 00 00."""
    digits = [int(c) for c in address]
    return bytes(digits[i] * 16 + digits[i + 1] for i in range(10, -1, -2))


def bcd_bytes(number: int, size: int, negative: bool = False) -> bytes:
    """``number`` (>= 0) as ``size`` BCD bytes lowest first; bit 7 of the last set if negative."""
    out = bytearray()
    for _ in range(size):
        number, low = divmod(number, 10)
        number, high = divmod(number, 10)
        out.append(high << 4 | low)
    if number:
        raise OverflowError("does not fit")
    if negative:
        out[-1] |= 0x80
    return bytes(out)


def encode_value(ident: Identifier, value: float | str | datetime) -> bytes:
    """One value of ``ident`` as the meter stores it (before the 33H shift).

    Numbers arrive in the identifier's field unit and are rounded to its last digit; one that
    does not fit clamps to the largest the format holds (a meter's register cannot show more).
    Energy counters roll over instead, as a meter's do: 999999.99 + 0.01 reads 000000.00.
    """
    if ident.kind == "date":
        assert isinstance(value, datetime)
        weekday = (value.weekday() + 1) % 7  # the standard counts Sunday as 0
        return bytes(reversed([_two(value.year % 100), _two(value.month), _two(value.day),
                               _two(weekday)]))
    if ident.kind == "time":
        assert isinstance(value, datetime)
        return bytes([_two(value.second), _two(value.minute), _two(value.hour)])
    if ident.kind == "digits":
        return bcd_bytes(int(value), ident.size)
    assert isinstance(value, int | float)
    counts = round(value / ident.scale * 10**ident.decimals)
    room = 10 ** (2 * ident.size)
    if ident.counter:
        counts %= room
    if ident.signed:
        room = room * 8 // 10  # the top digit gives up its bit 7 to the sign
    magnitude = min(abs(counts), room - 1)
    return bcd_bytes(magnitude, ident.size, ident.signed and counts < 0)


def _two(n: int) -> int:
    return (n // 10) << 4 | n % 10
