"""DL/T 645-2007 frames: ``[FE..] 68 A0..A5 68 C L DATA CS 16``.

- A0..A5: the meter's address, 12 BCD digits, the lowest byte (A0) first. We write addresses
  highest digit first, as a nameplate prints them: "000012345678" is sent 78 56 34 12 00 00.
  A byte AAH is a wildcard (abbreviated addressing: AAAAAAAAAAAA reaches whichever single meter
  is on the bus); 999999999999 is the broadcast address, which no meter answers.
- C: the control code. Bit 7 set: a reply from the meter; bit 6: an error reply; bit 5: more
  follow-up frames are coming; bits 4-0: the function (11H read data, 12H read follow-up data,
  13H read address, 08H broadcast time sync).
- L: the number of data bytes (at most 200 for a read).
- DATA: each byte is sent as (byte + 33H) mod 256. A ``Frame`` holds the plain bytes.
- CS: the sum, mod 256, of every byte from the first 68H through the last data byte, as sent.

The FE bytes before a frame wake the receiver up; a master sends up to four, meters may send
some or none, so the decoder skips any number.
"""

from __future__ import annotations

from dataclasses import dataclass

from collector.sources.dlt645.bcd import bcd_digits
from collector.sources.dlt645.errors import ChecksumError, FrameError

START = 0x68
END = 0x16
WAKE = 0xFE
OFFSET = 0x33
HEADER = 10  # 68, six address bytes, 68, C, L
MAX_DATA = 200  # the standard's limit for the data of a read reply
WILDCARD = "AAAAAAAAAAAA"
BROADCAST = "999999999999"

# control code bits and functions
FROM_METER = 0x80
ERROR = 0x40
MORE = 0x20
FUNCTION = 0x1F
READ_DATA = 0x11
READ_FOLLOWUP = 0x12
READ_ADDRESS = 0x13
BROADCAST_TIME = 0x08


@dataclass(frozen=True, slots=True)
class Frame:
    address: str  # 12 characters, highest byte first; "AA" marks a wildcard byte
    control: int
    data: bytes = b""  # plain, the 33H offset already removed

    @property
    def from_meter(self) -> bool:
        return bool(self.control & FROM_METER)

    @property
    def is_error(self) -> bool:
        return bool(self.control & ERROR)

    @property
    def more(self) -> bool:
        return bool(self.control & MORE)

    @property
    def function(self) -> int:
        return self.control & FUNCTION


def address_bytes(address: str) -> bytes:
    """'000012345678' -> 78 56 34 12 00 00 (A0 first). Pairs 'AA' are wildcard bytes."""
    if len(address) != 12:
        raise ValueError(f"address {address!r}: 12 characters, got {len(address)}")
    pairs = [address[i : i + 2] for i in range(0, 12, 2)]
    out = bytearray()
    for pair in reversed(pairs):
        if pair.upper() == "AA":
            out.append(0xAA)
        elif pair.isdigit() and pair.isascii():
            out.append(int(pair, 16))
        else:
            raise ValueError(f"address {address!r}: {pair!r} is neither two digits nor AA")
    return bytes(out)


def address_text(raw: bytes) -> str:
    """A0..A5 as sent -> the address highest digit first; AAH bytes stay 'AA'."""
    parts = []
    for i in range(5, -1, -1):
        if raw[i] == 0xAA:
            parts.append("AA")
        else:
            parts.append(bcd_digits(raw[i : i + 1], "address")[1])
    return "".join(parts)


def encode_frame(frame: Frame, preamble: int = 4) -> bytes:
    """The bytes to send: ``preamble`` FE bytes, then the frame."""
    if len(frame.data) > 255:
        raise ValueError(f"{len(frame.data)} data bytes do not fit the length byte")
    body = bytearray((START, *address_bytes(frame.address), START, frame.control,
                      len(frame.data)))
    body += bytes((b + OFFSET) & 0xFF for b in frame.data)
    body.append(sum(body) & 0xFF)
    body.append(END)
    return bytes((WAKE,) * preamble) + bytes(body)


def _parse(raw: bytes) -> Frame:
    """One whole frame from its first 68H to its 16H, lengths already checked."""
    length = raw[9]
    expected = sum(raw[: HEADER + length]) & 0xFF
    if raw[HEADER + length] != expected:
        raise ChecksumError(expected, raw[HEADER + length])
    data = bytes((b - OFFSET) & 0xFF for b in raw[HEADER : HEADER + length])
    return Frame(address_text(raw[1:7]), raw[8], data)


def decode_frame(raw: bytes) -> Frame:
    """Exactly one frame, after any number of FE bytes; anything else is a ``FrameError``."""
    start = 0
    while start < len(raw) and raw[start] == WAKE:
        start += 1
    body = raw[start:]
    if not body:
        raise FrameError("no frame: empty or only FE bytes")
    if body[0] != START:
        raise FrameError(f"byte {start} is {body[0]:02X}H, not the start byte 68H")
    if len(body) < HEADER + 2:
        raise FrameError(f"frame truncated: {len(body)} bytes, a frame has at least 12")
    if body[7] != START:
        raise FrameError(f"byte {start + 7} is {body[7]:02X}H, not the second 68H")
    length = body[9]
    if length > MAX_DATA:
        raise FrameError(f"length byte {length} exceeds the standard's {MAX_DATA}")
    if len(body) < HEADER + length + 2:
        raise FrameError(f"frame truncated: L says {length} data bytes, so {HEADER + length + 2}"
                         f" bytes from 68H to 16H; {len(body)} arrived")
    if body[HEADER + length + 1] != END:
        raise FrameError(f"byte {start + HEADER + length + 1} is "
                         f"{body[HEADER + length + 1]:02X}H, not the end byte 16H")
    if len(body) > HEADER + length + 2:
        raise FrameError(f"{len(body) - HEADER - length - 2} bytes after the end byte")
    return _parse(bytes(body))


class FrameBuffer:
    """Frames out of a byte stream that arrives in pieces (a TCP gateway forwards as it likes).

    Bytes before a start byte are skipped: FE preamble, and noise, which is counted. A 68H that
    does not begin a frame (no second 68H seven bytes on, an impossible length, no 16H where
    the frame would end) is taken for noise and the search resumes one byte later. Noise can
    also look like the start of a long frame whose rest never comes, or like a frame with a
    bad checksum: when a whole, well-formed frame with a good checksum starts inside such a
    candidate, the candidate was noise and the search resumes at that frame. Otherwise a frame
    with a bad checksum (or a non-BCD address) is consumed and its error raised, so the stream
    stays usable after it.
    """

    def __init__(self) -> None:
        self._buf = bytearray()
        self.noise = 0  # bytes skipped that were neither preamble nor part of a frame

    def feed(self, data: bytes) -> None:
        self._buf += data

    def __len__(self) -> int:
        return len(self._buf)

    def _skip(self, n: int) -> None:
        self.noise += sum(1 for b in self._buf[:n] if b != WAKE)
        del self._buf[:n]

    def _span(self, at: int) -> int | None:
        """The length of a well-formed frame starting at ``at`` (checksum not checked), 0 if
        none can start there, None if the bytes so far do not tell."""
        buf = self._buf
        if len(buf) < at + HEADER:
            return None
        if buf[at] != START or buf[at + 7] != START or buf[at + 9] > MAX_DATA:
            return 0
        end = HEADER + buf[at + 9] + 2
        if len(buf) < at + end:
            return None
        return end if buf[at + end - 1] == END else 0

    def _good_frame_after(self, first: int, last: int) -> int | None:
        """Where the first whole frame with a good checksum starts in ``first..last``."""
        buf = self._buf
        at = buf.find(START, first, last)
        while at >= 0:
            span = self._span(at)
            if span and sum(buf[at : at + span - 2]) & 0xFF == buf[at + span - 2]:
                return at
            at = buf.find(START, at + 1, last)
        return None

    def pop(self) -> Frame | None:
        """The next whole frame, or None until more bytes arrive."""
        buf = self._buf
        while True:
            i = buf.find(START)
            if i < 0:
                self._skip(len(buf))
                return None
            self._skip(i)
            span = self._span(0)
            if span == 0:
                self._skip(1)
                continue
            if span is None or sum(buf[: span - 2]) & 0xFF != buf[span - 2]:
                later = self._good_frame_after(1, len(buf) if span is None else span)
                if later is not None:
                    self._skip(later)
                    continue
                if span is None:
                    return None
            raw = bytes(buf[:span])
            del buf[:span]
            return _parse(raw)
