"""BCD as DL/T 645 sends it: two decimal digits per byte, the lowest byte first.

Signed quantities (currents, powers, power factors, combined energies) use the top bit of the
highest byte as the sign (1: negative) and the remaining 7 bits and lower bytes as the BCD
magnitude, so the largest magnitude of an n-byte value starts with digit 7.
"""

from __future__ import annotations

from collector.sources.dlt645.errors import BcdError

SIGN_BIT = 0x80


def bcd_digits(data: bytes, where: str, signed: bool = False) -> tuple[bool, str]:
    """(negative, digits highest first) of little-endian BCD ``data``.

    ``where`` names the value in the error (a data identifier or "address"). A nibble above 9
    is a ``BcdError`` naming the byte's offset in ``data``.
    """
    negative = False
    out = []
    last = len(data) - 1
    for i in range(last, -1, -1):
        b = data[i]
        if signed and i == last:
            negative = bool(b & SIGN_BIT)
            b &= ~SIGN_BIT
        if b >> 4 > 9 or b & 0x0F > 9:
            raise BcdError(where, i, data[i])
        out.append(f"{b:02X}")
    return negative, "".join(out)


def bcd_int(data: bytes, where: str, signed: bool = False) -> int:
    negative, digits = bcd_digits(data, where, signed)
    value = int(digits) if digits else 0
    return -value if negative else value


def int_bcd(value: int, size: int, signed: bool = False) -> bytes:
    """``value`` as ``size`` little-endian BCD bytes; ValueError if it does not fit."""
    magnitude = abs(value)
    limit = 10 ** (2 * size)
    if signed:
        limit = 8 * 10 ** (2 * size - 1)  # the top digit keeps its bit 7 for the sign
    if magnitude >= limit or (value < 0 and not signed):
        raise ValueError(f"{value} does not fit {size} BCD bytes"
                         + (" (signed)" if signed else ""))
    digits = f"{magnitude:0{2 * size}d}"
    out = bytearray(int(digits[i : i + 2], 16) for i in range(0, 2 * size, 2))
    out.reverse()
    if value < 0:
        out[-1] |= SIGN_BIT
    return bytes(out)
