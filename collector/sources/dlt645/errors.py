"""DL/T 645 decoding errors, all of them ``collector.errors.DecodeError``: bytes came back but
do not make a reading. What a caller can do about each:

DecodeError
 +-- Dlt645Error            anything the DL/T 645 codec refuses (catch this one at the edge)
      +-- FrameError        not a frame: no start byte, bad length, missing 16H end byte,
      |                     a truncated frame, trailing bytes (line noise: retry)
      +-- ChecksumError     a frame whose CS is wrong (noise on the bus: retry)
      +-- BcdError          a data byte that is not two BCD digits (a faulty meter: count it)
      +-- ReplyMismatch     a good frame that is not the answer to our request (another meter
      |    |                talking, a stale reply after a timeout: drop it, retry)
      |    +-- AddressMismatch   another meter's address echoed
      |    +-- DiMismatch        another data identifier echoed
      |    +-- ControlMismatch   another control code than the request calls for
      +-- LengthMismatch    the value's length is not what its data identifier's format says
      +-- BadValue          BCD digits the format cannot hold (month 13, 25 o'clock)
      +-- ErrorReply        the meter answered with an error (C = D1/D2): ``code`` and its
                            meanings from the standard's error byte (usually "no requested
                            data": the meter does not carry that identifier; fix the config)

No third-party library is involved: these are raised by our own code only.
"""

from __future__ import annotations

from collector.errors import DecodeError

# DL/T 645-2007 appendix C, the error byte (错误信息字) of an error reply: one bit per cause
ERROR_BITS: dict[int, str] = {
    0x01: "other error (其他错误)",
    0x02: "no requested data (无请求数据)",
    0x04: "wrong password or unauthorised (密码错/未授权)",
    0x08: "baud rate cannot be changed (通信速率不能更改)",
    0x10: "too many annual time zones (年时区数超)",
    0x20: "too many daily time slots (日时段数超)",
    0x40: "too many tariffs (费率数超)",
}


def error_meanings(code: int) -> list[str]:
    """The causes an error byte announces, in bit order; the reserved bit 7 is named too."""
    out = [text for bit, text in ERROR_BITS.items() if code & bit]
    if code & 0x80:
        out.append("reserved bit 7 set")
    return out or ["no cause given (error byte 00)"]


class Dlt645Error(DecodeError):
    pass


class FrameError(Dlt645Error):
    pass


class ChecksumError(Dlt645Error):
    def __init__(self, expected: int, got: int) -> None:
        super().__init__(f"checksum {got:02X}H, the bytes sum to {expected:02X}H")
        self.expected, self.got = expected, got


class BcdError(Dlt645Error):
    def __init__(self, where: str, offset: int, byte: int) -> None:
        super().__init__(f"{where}: byte {offset} is {byte:02X}H, not two BCD digits")
        self.offset, self.byte = offset, byte


class ReplyMismatch(Dlt645Error):
    pass


class AddressMismatch(ReplyMismatch):
    def __init__(self, expected: str, got: str) -> None:
        super().__init__(f"reply from meter {got}, asked {expected}")
        self.expected, self.got = expected, got


class DiMismatch(ReplyMismatch):
    def __init__(self, expected: int, got: int) -> None:
        super().__init__(f"reply for data identifier {got:08X}, asked {expected:08X}")
        self.expected, self.got = expected, got


class ControlMismatch(ReplyMismatch):
    def __init__(self, expected: str, got: int) -> None:
        super().__init__(f"control code {got:02X}H, expected {expected}")
        self.got = got


class LengthMismatch(Dlt645Error):
    pass


class BadValue(Dlt645Error):
    pass


class ErrorReply(Dlt645Error):
    def __init__(self, address: str, code: int, di: int | None = None) -> None:
        self.address, self.code, self.di = address, code, di
        self.meanings = error_meanings(code)
        what = f" reading {di:08X}" if di is not None else ""
        super().__init__(f"meter {address} answered error {code:02X}H{what}: "
                         + "; ".join(self.meanings))
