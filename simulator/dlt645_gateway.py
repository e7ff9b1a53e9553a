"""A simulated transparent serial-to-TCP gateway with DL/T 645 meters on its RS485 bus.

The gateway passes bytes both ways and knows nothing of DL/T 645. What it simulates is the
bus: every byte takes (bits per byte) / baud seconds on the wire (8E1: 11 bits, so 4.6 ms at
2400 baud); a meter starts answering a turnaround time after the request's last byte; the
answer reaches the TCP side piece by piece as its bytes come off the wire. The bus is half
duplex and has no arbiter: a request sent while a meter is still answering, or two meters
answering at once (a wildcard address matching both), is a collision. Every transmission on
the bus at that moment is spoilt: the meters do not understand a spoilt request, and a spoilt
answer reaches the TCP side as garbage. ``collisions`` counts them, so a test can prove the
collector sends one request at a time and waits for its answer.

Some RS485 converters hear their own transmissions and pass them back to TCP: ``echo=True``
simulates one, so the collector must tell its own echoed request from the answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from simulator.dlt645_meter import SimDlt645Meter
from simulator.dlt645_wire import Request, RequestReader

log = logging.getLogger(__name__)
TURNAROUND_S = 0.03  # DL/T 645 lets a meter take 20-500 ms before answering
STOP_TIMEOUT_S = 10.0


@dataclass
class _Transmission:
    start: float  # loop time its first byte goes on the wire
    end: float  # and its last byte leaves it
    spoilt_at: float | None = None  # when another transmission ran into it


class SimDlt645Gateway:
    def __init__(self, host: str, port: int, meters: Sequence[SimDlt645Meter],
                 baud: int = 2400, bits_per_byte: int = 11, turnaround_s: float = TURNAROUND_S,
                 chunk: int = 16, echo: bool = False) -> None:
        self.host, self.port = host, port
        self.meters = list(meters)
        self.byte_s = bits_per_byte / baud
        self.turnaround_s = turnaround_s
        self.chunk = chunk  # bytes the gateway forwards to TCP at a time
        self.echo = echo
        self.answers = 0  # answers whose last byte reached the TCP side
        self.collisions = 0
        self.requests = 0  # requests the meters received intact
        self._active: list[_Transmission] = []
        self._reader = RequestReader()
        self._tx: asyncio.Queue[bytes] = asyncio.Queue()
        self._clients: set[asyncio.StreamWriter] = set()
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._tx_free_at = 0.0

    # -- lifecycle -----------------------------------------------------------------------------
    async def start(self) -> None:
        self._server = await asyncio.start_server(self._client, self.host, self.port)
        self._spawn(self._bus(), "dlt645-bus")

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for w in list(self._clients):
            w.close()
        tasks = list(self._tasks)
        for t in tasks:
            t.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=STOP_TIMEOUT_S)
        self._tasks.clear()

    def _spawn(self, coro: object, name: str) -> None:
        task = asyncio.ensure_future(coro)  # type: ignore[arg-type]
        task.set_name(f"{name}-{self.port}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._clients.add(writer)
        try:
            while data := await reader.read(4096):
                self._tx.put_nowait(data)
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            self._clients.discard(writer)
            writer.close()

    # -- the bus -------------------------------------------------------------------------------
    def _begin(self, duration: float) -> _Transmission:
        """Put a transmission on the bus now; a collision spoils every one on it."""
        now = asyncio.get_running_loop().time()
        self._active = [t for t in self._active if t.end > now]
        new = _Transmission(now, now + duration)
        if self._active:
            self.collisions += 1
            for t in (*self._active, new):
                t.spoilt_at = now if t.spoilt_at is None else t.spoilt_at
        self._active.append(new)
        return new

    async def _bus(self) -> None:
        """The gateway's UART: sends what TCP clients wrote, one byte after another.

        The meters hear each request when its last byte has crossed the wire, even when a
        client wrote several requests in one go.
        """
        loop = asyncio.get_running_loop()
        while True:
            data = await self._tx.get()
            wait = self._tx_free_at - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)  # the UART is still sending earlier bytes
            tx = self._begin(len(data) * self.byte_s)
            self._tx_free_at = tx.end
            for i in range(len(data)):
                for req in self._reader.push(data[i : i + 1]):
                    self._spawn(self._hear(req, tx, tx.start + (i + 1) * self.byte_s),
                                "dlt645-hear")
            await asyncio.sleep(max(0.0, tx.end - loop.time()))
            if self.echo:
                self._forward(data)
            if tx.spoilt_at is not None:
                self._reader = RequestReader()  # the meters heard garbage

    async def _hear(self, req: Request, tx: _Transmission, at: float) -> None:
        await asyncio.sleep(max(0.0, at - asyncio.get_running_loop().time()))
        if tx.spoilt_at is not None and tx.spoilt_at < at:
            return  # run into before its last byte: the meters did not get it
        self.requests += 1
        self._dispatch(req)

    def _dispatch(self, req: Request) -> None:
        for meter in self.meters:
            if meter.addressed_by(req.address):
                raw = meter.answer(req)
                if raw is not None:
                    self._spawn(self._reply(raw, self.turnaround_s + meter.delay_s),
                                f"dlt645-{meter.id}")

    async def _reply(self, raw: bytes, delay: float) -> None:
        await asyncio.sleep(delay)
        rx = self._begin(len(raw) * self.byte_s)
        for i in range(0, len(raw), self.chunk):
            piece = raw[i : i + self.chunk]
            await asyncio.sleep(len(piece) * self.byte_s)
            if rx.spoilt_at is not None:  # two drivers at once: framing errors, garbage
                piece = bytes(b ^ 0xFF for b in piece)
            self._forward(piece)
        self.answers += 1

    def _forward(self, data: bytes) -> None:
        for w in list(self._clients):
            with contextlib.suppress(ConnectionError, RuntimeError):
                w.write(data)
