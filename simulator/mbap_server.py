"""A lean Modbus TCP server: answers reads from the register images, and can emulate RS485.

pymodbus's server costs 74-180 µs per request, which limits a fleet simulated on the same
machine as the collector; this one answers from the same ``ImageContext`` (the same fault
switches, the same function-code counts) for a fraction of that, so a simulated gateway can
serve thousands of devices.

With a ``SerialBus`` it behaves as an RS485 gateway does: the bus carries one transaction at a
time, whichever TCP connection asked, and each takes its time on the wire (request frame,
silence, the device's turnaround, answer frame, silence; ``config.serial_bus``). A request that
arrives while the bus is busy waits for it. A unit that does not answer holds the bus for its
request frame only (the gateway's own wait is not modelled). ``bus_busy_s`` adds up the time
the bus carried transactions: the utilisation a benchmark reports.
"""

from __future__ import annotations

import asyncio
import struct
from typing import TYPE_CHECKING

from config.serial_bus import EXCEPTION_BYTES, READ_REQUEST_BYTES, SerialBus

if TYPE_CHECKING:
    from simulator.modbus_server import ImageContext

HEADER = struct.Struct(">HHHB")  # transaction id, protocol id, length, unit id
READ = struct.Struct(">BHH")  # function, address, count
EXCEPTION = struct.Struct(">HHHBBB")
ILLEGAL_FUNCTION, ILLEGAL_VALUE = 1, 3
MAX_COUNT = 125


class MbapServer:
    def __init__(self, context: ImageContext, host: str, port: int,
                 bus: SerialBus | None = None) -> None:
        self.context, self.host, self.port, self.bus = context, host, port, bus
        self._server: asyncio.Server | None = None
        self._protocols: set[_Connection] = set()
        self._bus_free = 0.0  # loop time at which the emulated bus is next free
        self.bus_busy_s = 0.0
        self.requests = 0

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: _Connection(self), self.host, self.port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            for p in list(self._protocols):
                p.close()
            await self._server.wait_closed()
            self._server = None

    def answer(self, conn: _Connection, tid: int, unit: int, pdu: bytes) -> None:
        self.requests += 1
        fc = pdu[0]
        self.context.function_codes[fc] += 1
        delay = 0.0
        if fc not in (3, 4) or len(pdu) != 5:
            frame: bytes | None = EXCEPTION.pack(tid, 0, 3, unit, fc | 0x80, ILLEGAL_FUNCTION)
        else:
            _, address, count = READ.unpack(pdu)
            if not 1 <= count <= MAX_COUNT:
                frame = EXCEPTION.pack(tid, 0, 3, unit, fc | 0x80, ILLEGAL_VALUE)
            else:
                delay, words = self.context.lookup(unit, fc, address, count)
                if words is None:
                    frame = None  # a dead unit says nothing; the client times out
                elif isinstance(words, list):
                    n = len(words)
                    frame = struct.pack(f">HHHBBB{n}H", tid, 0, 3 + 2 * n, unit, fc, 2 * n,
                                        *words)
                else:
                    frame = EXCEPTION.pack(tid, 0, 3, unit, fc | 0x80, int(words))
        if self.bus is not None:
            delay = self._on_bus(frame, delay)
        if frame is None:
            return
        if delay > 0:
            asyncio.get_running_loop().call_later(delay, conn.send, frame)
        else:
            conn.send(frame)

    def _on_bus(self, frame: bytes | None, device_delay: float) -> float:
        """Queue the transaction on the bus; return how long until its answer is out."""
        bus = self.bus
        assert bus is not None
        busy = bus.frame_s(READ_REQUEST_BYTES)
        if frame is not None:
            rtu_bytes = len(frame) - 7 + 3 if frame[7] & 0x80 == 0 else EXCEPTION_BYTES
            busy += bus.turnaround_s + device_delay + bus.frame_s(rtu_bytes)
        now = asyncio.get_running_loop().time()
        start = max(now, self._bus_free)
        self._bus_free = start + busy
        self.bus_busy_s += busy
        return self._bus_free - now


class _Connection(asyncio.Protocol):
    def __init__(self, server: MbapServer) -> None:
        self.server = server
        self.transport: asyncio.Transport | None = None
        self._buf = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.server._protocols.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.server._protocols.discard(self)
        self.transport = None

    def data_received(self, data: bytes) -> None:
        buf = self._buf + data if self._buf else data
        while len(buf) >= 8:
            tid, proto, length, unit = HEADER.unpack_from(buf)
            if proto != 0 or not 2 <= length <= 254:
                self.close()  # not Modbus TCP: drop the connection, as a gateway would
                return
            end = 6 + length
            if len(buf) < end:
                break
            self.server.answer(self, tid, unit, buf[7:end])
            buf = buf[end:]
        self._buf = buf

    def send(self, frame: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(frame)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()
