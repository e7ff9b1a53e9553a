"""The collector's end of a transparent serial gateway: one TCP connection, one transaction at
a time on the RS485 bus behind it.

A meter answers only once the whole request has crossed the wire, and two answers at once
would collide, so every meter on a bus takes turns: the meters of one link are polled by one
walk (``collector.sources.walk``, healthy meters first, as on a Modbus gateway), and a lock
keeps anything else (a scan) from talking across a poll. A meter's whole poll holds it once.

How long to wait for an answer follows from the bus: the request's bytes at the gateway's
baud and framing, then ``timeout_s`` for the meter to start answering (DL/T 645 allows up to
0.5 s), then the answer's bytes, plus a little for the gateway and TCP. The bytes that come
back are reassembled into frames (``FrameBuffer``); a frame that is not a reply (our own
request echoed by a converter) or not the reply to this request (a late answer to an earlier
request that timed out) is skipped and counted, and the wait goes on. Bytes that make no
frame by the deadline (two meters answering at once, a bad line, a wrong baud rate) are a
``FrameError``, not a timeout: the bus is noisy, not silent.

Network errors are mapped to collector errors here and nowhere else.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import TypeVar

from collector.errors import DeviceTimeout, SourceError
from collector.sources.dlt645.codec import (
    Decoder,
    ReadPart,
    Value,
    address_reply,
    address_request,
    followup_request,
    read_reply,
    read_request,
)
from collector.sources.dlt645.errors import ChecksumError, FrameError, ReplyMismatch
from collector.sources.dlt645.frame import HEADER, MAX_DATA, WILDCARD, Frame, FrameBuffer

log = logging.getLogger(__name__)
T = TypeVar("T")

PREAMBLE_ROOM = 4  # FE bytes a meter may send before its answer
MAX_FOLLOWUPS = 16  # a reply split into more frames than this is taken for a confused meter


@dataclass(frozen=True, slots=True)
class LinkOptions:
    timeout_s: float = 1.0
    byte_time_s: float = 11 / 2400  # 8E1 at 2400 baud
    pause_between_requests_s: float = 0.02
    preamble: int = 4
    # the gateway's packing of serial bytes into TCP segments, and the network
    slack_s: float = 0.15


class Dlt645Link:
    def __init__(self, host: str, port: int, options: LinkOptions | None = None,
                 name: str | None = None) -> None:
        self.host, self.port = host, port
        self.options = options or LinkOptions()
        self.label = name or f"{host}:{port}"
        self._lock = asyncio.Lock()
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._frames = FrameBuffer()
        self._quiet_from = 0.0  # monotonic time the bus last fell quiet
        self.connects = 0
        self.transactions = 0
        self.skipped = 0  # frames that were not the answer waited for (echoes, late answers)
        self.retries = 0  # transactions sent again after a garbled answer

    @contextlib.asynccontextmanager
    async def cycle(self, device: str) -> AsyncIterator[Bus]:
        """Hold the bus for one meter's poll."""
        await self._lock.acquire()
        try:
            yield Bus(self, device)
        finally:
            self._lock.release()

    async def close(self) -> None:
        writer, self._reader, self._writer = self._writer, None, None
        if writer is not None:
            writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer.wait_closed(), 2)

    # -- inside a cycle (the lock is held) -----------------------------------------------------
    async def _connect(self, device: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self._reader is not None and self._writer is not None \
                and not self._writer.is_closing():
            return self._reader, self._writer
        try:
            self._reader, self._writer = await asyncio.wait_for(
                asyncio.open_connection(self.host, self.port), self.options.timeout_s)
        except (TimeoutError, OSError) as e:
            raise SourceError(device, f"cannot connect to {self.label}: {e!r}") from e
        self._frames = FrameBuffer()
        self.connects += 1
        return self._reader, self._writer

    def _budget_s(self, request_len: int, reply_len: int) -> float:
        o = self.options
        return (o.byte_time_s * (request_len + reply_len + PREAMBLE_ROOM) + o.timeout_s
                + o.slack_s)

    async def transact(self, device: str, meter: str, request: bytes,
                       accept: Callable[[Frame], T], reply_len: int) -> T:
        """Send ``request``; return what ``accept`` makes of the first frame it accepts.

        ``accept`` raises ReplyMismatch for a frame that is not this request's answer (it is
        skipped); any other codec error ends the transaction. No answer in time is a
        DeviceTimeout; a lost connection a SourceError (the next transaction reconnects).
        """
        reader, writer = await self._connect(device)
        gap = self._quiet_from + self.options.pause_between_requests_s - time.monotonic()
        if gap > 0:
            await asyncio.sleep(gap)
        self.transactions += 1
        loop = asyncio.get_running_loop()
        budget = self._budget_s(len(request), reply_len)
        deadline = loop.time() + budget
        noise_before = self._frames.noise
        try:
            writer.write(request)
            await writer.drain()
            while True:
                while (frame := self._frames.pop()) is not None:
                    if not frame.from_meter:
                        self.skipped += 1  # our own request, echoed by the converter
                        continue
                    try:
                        return accept(frame)
                    except ReplyMismatch as e:
                        self.skipped += 1
                        log.debug("%s: skipped a frame that is not the answer: %s", device, e)
                left = deadline - loop.time()
                if left <= 0:
                    noise = self._frames.noise - noise_before + len(self._frames)
                    if noise:  # bytes came, but no frame: a collision, or a bad line
                        self._frames = FrameBuffer()
                        raise FrameError(f"no whole answer within {budget:.2f} s, {noise} "
                                         f"bytes of noise (meter {meter} at {self.label})")
                    raise DeviceTimeout(device, f"no answer within {budget:.2f} s (meter "
                                                f"{meter} at {self.label})")
                try:
                    data = await asyncio.wait_for(reader.read(4096), left)
                except TimeoutError:
                    continue
                if not data:
                    raise ConnectionResetError("the gateway closed the connection")
                self._frames.feed(data)
        except (ConnectionError, OSError) as e:
            await self.close()
            raise SourceError(device, f"connection to {self.label} lost: {e!r}") from e
        finally:
            self._quiet_from = time.monotonic()


class Bus:
    """One meter's hold on the bus: its transactions go out one after another."""

    def __init__(self, link: Dlt645Link, device: str) -> None:
        self._link = link
        self.device = device

    async def _once_more_if_garbled(self, meter: str, request: bytes,
                                    accept: Callable[[Frame], T], reply_len: int) -> T:
        # noise on a long RS485 line garbles an answer now and then: ask once more
        try:
            return await self._link.transact(self.device, meter, request, accept, reply_len)
        except (ChecksumError, FrameError):
            self._link.retries += 1
            return await self._link.transact(self.device, meter, request, accept, reply_len)

    async def read(self, address: str, decoder: Decoder) -> list[Value]:
        """Read one data identifier (a block: all its members), follow-up frames included."""
        di = decoder.ident.di
        preamble = self._link.options.preamble
        size = decoder.ident.size * len(decoder.members)
        part = await self._once_more_if_garbled(
            address, read_request(address, di, preamble), _part(self.device, address, di, 0),
            HEADER + 2 + 4 + size)
        payload = part.payload
        seq = 0
        while part.more:
            seq += 1
            if seq > MAX_FOLLOWUPS:
                raise SourceError(self.device, f"meter {address} sent more than "
                                               f"{MAX_FOLLOWUPS} follow-up frames for {di:08X}")
            part = await self._once_more_if_garbled(
                address, followup_request(address, di, seq, preamble),
                _part(self.device, address, di, seq), HEADER + 2 + MAX_DATA)
            payload += part.payload
        return decoder.decode(payload)

    async def read_address(self, pattern: str = WILDCARD) -> str:
        """The address of the meter that answers the read-address command to ``pattern``."""
        return await self._once_more_if_garbled(
            pattern, address_request(pattern, self._link.options.preamble),
            lambda f: address_reply(f, pattern), HEADER + 2 + 6)


def _part(device: str, address: str, di: int, seq: int) -> Callable[[Frame], ReadPart]:
    """Accepts the reply to a read (seq 0) or to follow-up read ``seq``."""
    def accept(frame: Frame) -> ReadPart:
        part = read_reply(frame, address, di, followup=seq > 0)
        if seq and part.seq != seq:
            raise SourceError(device, f"meter {address}: follow-up frame {part.seq} of "
                                      f"{di:08X}, asked {seq}")
        return part
    return accept
