"""An RS485 bus behind a Modbus TCP gateway: its settings and what a transaction costs on it.

Most plants put their inverters on RS485 behind a gateway, where the wire, not the CPU, is the
limit: at 9600 baud 8N1 a 120-register read is about 0.29 s on the wire. The gateway turns
each Modbus TCP request into an RTU frame, and the bus carries one transaction at a time:

    request frame | silence | device turnaround | answer frame | silence

A character is 1 start bit, 8 data bits, an optional parity bit and 1 or 2 stop bits; frames
are separated by at least 3.5 characters of silence (a fixed 1.75 ms above 19200 baud, as the
Modbus serial line specification says). The collector plans each gateway's polls with these
figures and the simulator emulates the same bus, so both live here, in the config package they
already share.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from config.strict import Strict

READ_REQUEST_BYTES = 8  # unit, function, address (2), count (2), CRC (2)
ANSWER_OVERHEAD_BYTES = 5  # unit, function, byte count, CRC (2)
EXCEPTION_BYTES = 5  # unit, function | 0x80, code, CRC (2)
FAST_SILENCE_S = 0.00175  # above 19200 baud the inter-frame silence is fixed


class SerialBus(Strict):
    """The RS485 line behind a gateway (``gateways[].serial``)."""

    baud: int = Field(9600, ge=300, le=1_000_000, description="bits per second on the wire")
    framing: Literal["8N1", "8E1", "8O1", "8N2"] = Field(
        "8N1", description="data bits, parity (N/E/O) and stop bits of each character")
    turnaround_s: float = Field(
        0.01, ge=0, le=5, description="a device's time from the end of a request to its answer")

    @property
    def char_s(self) -> float:
        """Seconds one character takes on the wire."""
        bits = 1 + 8 + (0 if self.framing[1] == "N" else 1) + int(self.framing[2])
        return bits / self.baud

    @property
    def silence_s(self) -> float:
        """The 3.5-character gap that ends a frame."""
        return 3.5 * self.char_s if self.baud <= 19200 else FAST_SILENCE_S

    def frame_s(self, nbytes: int) -> float:
        """One frame of ``nbytes`` and the silence after it."""
        return nbytes * self.char_s + self.silence_s

    def read_s(self, count: int) -> float:
        """A read of ``count`` registers, answered: request, turnaround, answer."""
        return (self.frame_s(READ_REQUEST_BYTES) + self.turnaround_s
                + self.frame_s(ANSWER_OVERHEAD_BYTES + 2 * count))
