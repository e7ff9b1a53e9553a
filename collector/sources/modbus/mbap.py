"""A lean Modbus TCP (MBAP) client connection: one request in flight, answers as bytes.

pymodbus's client costs 1.7-2x a hand-written asyncio client per read (its framer, transaction
manager and PDU objects); at 20,000 devices that is most of a core. This is the part of it the
collector needs and no more: frame a read (function 3 or 4), match the answer by transaction
id, hand back the register bytes (big-endian words, as on the wire) or say what went wrong:

- ``ExceptionAnswer``: the device answered with a Modbus exception code;
- ``GarbledAnswer``: an answer that cannot be one to our request (a byte count that does not
  match, another unit or function, a length outside the protocol). The connection is closed:
  after garbage, the framing of what follows cannot be trusted;
- ``ConnectionLost``: the connection closed with the request unanswered;
- ``TimeoutError``: no answer in time. A late answer is dropped by its transaction id.

One request at a time, as a gateway answers one at a time; the endpoint above serialises.
"""

from __future__ import annotations

import asyncio
import struct

HEADER = struct.Struct(">HHHB")  # transaction id, protocol 0, length, unit id
READ = struct.Struct(">HHHBBHH")  # MBAP header + function, address, count
MAX_LENGTH = 254  # an MBAP length: unit id + a PDU of at most 253 bytes


class ExceptionAnswer(Exception):
    def __init__(self, code: int) -> None:
        super().__init__(f"Modbus exception {code}")
        self.code = code


class GarbledAnswer(Exception):
    pass


class ConnectionLost(Exception):
    pass


class MbapConnection(asyncio.Protocol):
    """One TCP connection to a Modbus TCP server (a device or a gateway)."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self._buf = b""
        self._tid = 0
        # the request in flight: transaction id, unit, function, count, its future
        self._want: tuple[int, int, int, int, asyncio.Future[bytes]] | None = None
        self.closed = False

    # -- asyncio.Protocol ---------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._fail(ConnectionLost(f"connection closed ({exc!r})" if exc else "connection closed"))

    def data_received(self, data: bytes) -> None:
        buf = self._buf + data if self._buf else data
        while len(buf) >= 7:
            tid, proto, length, unit = HEADER.unpack_from(buf)
            if proto != 0 or not 2 <= length <= MAX_LENGTH:
                self._garbled(f"not an MBAP frame (protocol {proto}, length {length})")
                return
            end = 6 + length
            if len(buf) < end:
                break
            pdu = buf[7:end]
            buf = buf[end:]
            self._answer(tid, unit, pdu)
            if self.closed:
                return
        self._buf = buf

    # -- requests -----------------------------------------------------------------------------
    def read(self, unit: int, function: int, address: int, count: int) -> asyncio.Future[bytes]:
        """Send one read; the future gets the 2*count data bytes of the answer."""
        fut: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        if self.closed or self.transport is None:
            fut.set_exception(ConnectionLost("not connected"))
            return fut
        self._tid = tid = (self._tid + 1) & 0xFFFF
        self._want = (tid, unit, function, count, fut)
        self.transport.write(READ.pack(tid, 0, 6, unit, function, address, count))
        return fut

    def forget(self) -> None:
        """The request in flight timed out: an answer to it, should it come, is dropped."""
        self._want = None

    def close(self) -> None:
        if self.transport is not None and not self.closed:
            self.transport.close()
        self.closed = True
        self._fail(ConnectionLost("connection closed"))

    # -- answers ------------------------------------------------------------------------------
    def _answer(self, tid: int, unit: int, pdu: bytes) -> None:
        want = self._want
        if want is None or want[0] != tid:
            return  # the late answer to a request that timed out
        _, w_unit, function, count, fut = want
        fc = pdu[0]
        if unit != w_unit or fc & 0x7F != function:
            self._garbled(f"answer from unit {unit}, function {fc} to a read of unit "
                          f"{w_unit}, function {function}")
            return
        if fc & 0x80:
            if len(pdu) != 2:
                self._garbled(f"exception answer of {len(pdu)} bytes")
                return
            self._want = None
            if not fut.done():
                fut.set_exception(ExceptionAnswer(pdu[1]))
            return
        if len(pdu) != 2 + 2 * count or pdu[1] != 2 * count:
            got = pdu[1] if len(pdu) > 1 else None
            self._garbled(f"byte count {got} and {len(pdu) - 2} data bytes for "
                          f"{count} registers")
            return
        self._want = None
        if not fut.done():
            fut.set_result(pdu[2:])

    def _garbled(self, text: str) -> None:
        self._fail(GarbledAnswer(text))
        self.close()

    def _fail(self, exc: Exception) -> None:
        want, self._want = self._want, None
        if want is not None and not want[4].done():
            want[4].set_exception(exc)


async def connect(host: str, port: int) -> MbapConnection:
    _, protocol = await asyncio.get_running_loop().create_connection(MbapConnection, host, port)
    return protocol
