"""Modbus TCP edge of the collector: one connection per host:port, requests serialised.

Many devices behind one gateway share its connection. A gateway answers one request at a time:
the devices of one endpoint are polled by one walk (``collector.sources.walk``), one after
another, and a lock keeps anything else (discovery tools, scans) from talking across a poll; a
device's whole poll (its "cycle") holds the lock once. The gateway
workarounds peer systems need are options here: a pause after connecting (Huawei dongles), a
pause between requests, closing the connection after every cycle (single-master devices), and
one retry on exception 6 (device busy).

A dead unit id costs a full timeout each time it is asked. Two things keep it from stalling the
others: its poller backs off (fewer asks), and the walk polls healthy devices first, so a
failing device's timeout falls after the healthy polls due at the same instant, not before.

The connection is our own lean MBAP client (``mbap.py``); its outcomes (exception answers,
garbled answers, lost connections, timeouts) are mapped to collector errors here and nowhere
else.
"""

from __future__ import annotations

import asyncio
import logging
import struct
import time
from dataclasses import dataclass

from collector.errors import DeviceException, DeviceTimeout, SourceError
from collector.sources.modbus.mbap import (
    ConnectionLost,
    ExceptionAnswer,
    GarbledAnswer,
    MbapConnection,
    connect,
)
from collector.sources.modbus.plan import Read

log = logging.getLogger(__name__)

DEVICE_BUSY = 6


@dataclass(frozen=True, slots=True)
class EndpointOptions:
    timeout_s: float = 2.0
    pause_after_connect_s: float = 0.0
    pause_between_requests_s: float = 0.0
    close_after_cycle: bool = False


class ModbusEndpoint:
    def __init__(self, host: str, port: int, timeout_s: float = 2.0,
                 options: EndpointOptions | None = None, name: str | None = None) -> None:
        self.host, self.port = host, port
        self.options = options or EndpointOptions(timeout_s=timeout_s)
        self.timeout_s = self.options.timeout_s
        self.label = name or f"{host}:{port}"
        self._conn: MbapConnection | None = None
        self._lock = asyncio.Lock()
        self._last_request_end = 0.0
        self.connects = 0  # successful connects; close_after_cycle makes one per cycle
        self.busy_retries = 0
        self.protocol_errors = 0  # answers that could not be parsed (garbage, wrong counts)
        # seconds from sending a request to its outcome: how busy the gateway (or the RS485
        # bus behind it) kept this connection; its rate is the utilisation
        self.busy_s = 0.0
        self._garbled_logged: str | None = None
        # one watchdog timer per endpoint instead of one per request: the request in flight,
        # its deadline, and the timer, armed while requests go out (see _watch)
        self._in_flight: asyncio.Future[bytes] | None = None
        self._deadline = 0.0
        self._timer: asyncio.TimerHandle | None = None

    def protocol_error(self, error: object) -> None:
        """An answer could not be parsed: the connection was closed, the request fails.

        Logged once per change of error, per endpoint: a device that always answers garbage
        must not write a line per read.
        """
        text = str(error) or type(error).__name__
        self.protocol_errors += 1
        if text != self._garbled_logged:
            log.warning("%s: an answer could not be parsed (%s); reconnecting", self.label, text)
            self._garbled_logged = text
        else:
            log.debug("%s: another unparsable answer (%s)", self.label, text)

    def cycle(self, device: str) -> _CycleHold:
        """``async with``: hold the connection for one device's poll."""
        return _CycleHold(self, device)

    async def read(self, device: str, unit: int, r: Read) -> list[int]:
        """Read ``r`` from unit ``unit`` in a cycle of its own (discovery, scans)."""
        async with self.cycle(device) as c:
            return await c.read(unit, r)

    async def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    # -- inside a cycle (the lock is held) ---------------------------------------------------
    async def _connect(self, device: str) -> MbapConnection:
        try:
            conn = await asyncio.wait_for(connect(self.host, self.port), self.timeout_s)
        except (TimeoutError, OSError) as e:
            raise SourceError(device, f"cannot connect to {self.label}: {e!r}") from e
        self._conn = conn
        self.connects += 1
        if self.options.pause_after_connect_s:
            await asyncio.sleep(self.options.pause_after_connect_s)
        return conn

    async def _pause_between(self) -> None:
        wait = self._last_request_end + self.options.pause_between_requests_s - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)

    async def _request(self, device: str, unit: int, r: Read) -> bytes:
        """One read: the 2 * count data bytes of the answer (big-endian words)."""
        conn = self._conn
        if conn is None or conn.closed:
            conn = await self._connect(device)
        paced = self.options.pause_between_requests_s > 0
        if paced:
            await self._pause_between()
        loop = asyncio.get_running_loop()
        sent = loop.time()
        fut = conn.read(unit, 3 if r.table == "holding" else 4, r.address, r.count)
        self._watch(fut, sent + self.timeout_s)
        try:
            return await fut
        except ExceptionAnswer as e:
            raise DeviceException(device, e.code, r.address) from None
        except TimeoutError:
            conn.forget()  # a late answer is dropped by its transaction id: no reconnect
            raise DeviceTimeout(device, f"no answer within {self.timeout_s:g} s "
                                        f"(unit {unit} at {self.label})") from None
        except GarbledAnswer as e:
            self.protocol_error(e)
            raise SourceError(device, f"garbled answer from unit {unit} at {self.label}: "
                                      f"{e}") from None
        except ConnectionLost as e:
            raise SourceError(device, f"connection to {self.label} lost: {e}") from None
        except asyncio.CancelledError:
            conn.forget()
            raise
        finally:
            self._in_flight = None
            self.busy_s += loop.time() - sent
            if paced:
                self._last_request_end = time.monotonic()

    def _watch(self, fut: asyncio.Future[bytes], deadline: float) -> None:
        """Fail ``fut`` with TimeoutError at ``deadline`` unless it is answered first.

        Requests on an endpoint go one at a time, so one timer serves them all: armed for the
        first request's deadline, it finds a later request in flight when it fires and waits
        on for that one's deadline. A timer per request (4,000 a second at 20,000 devices) is
        a handle pushed on and cancelled off the loop's timer heap every time.
        """
        self._in_flight, self._deadline = fut, deadline
        if self._timer is None:
            self._timer = asyncio.get_running_loop().call_at(deadline, self._check_deadline)

    def _check_deadline(self) -> None:
        self._timer = None
        fut = self._in_flight
        if fut is None or fut.done():
            return  # nothing in flight: the next request arms the timer again
        loop = asyncio.get_running_loop()
        if loop.time() >= self._deadline:
            fut.set_exception(TimeoutError())
        else:
            self._timer = loop.call_at(self._deadline, self._check_deadline)

    async def _read_retrying_busy(self, device: str, unit: int, r: Read) -> bytes:
        try:
            return await self._request(device, unit, r)
        except DeviceException as e:
            if e.code != DEVICE_BUSY:
                raise
        return await self._retry_busy(device, unit, r)

    async def _retry_busy(self, device: str, unit: int, r: Read) -> bytes:
        # busy: a gateway mid-way through another master's request; one more try, a little later
        self.busy_retries += 1
        await asyncio.sleep(max(self.options.pause_between_requests_s,
                                min(0.2, self.timeout_s / 4)))
        return await self._request(device, unit, r)


class _CycleHold:
    """The async context manager of ``ModbusEndpoint.cycle`` (a class: it runs every poll)."""

    __slots__ = ("_cycle", "_endpoint")

    def __init__(self, endpoint: ModbusEndpoint, device: str) -> None:
        self._endpoint = endpoint
        self._cycle = Cycle(endpoint, device)

    async def __aenter__(self) -> Cycle:
        await self._endpoint._lock.acquire()
        return self._cycle

    async def __aexit__(self, *exc: object) -> None:
        endpoint = self._endpoint
        if endpoint.options.close_after_cycle and endpoint._conn is not None:
            endpoint._conn.close()
            endpoint._conn = None
        endpoint._lock.release()


class Cycle:
    """One device's hold on the connection: its reads go out back to back."""

    __slots__ = ("_endpoint", "device")

    def __init__(self, endpoint: ModbusEndpoint, device: str) -> None:
        self._endpoint = endpoint
        self.device = device

    async def read(self, unit: int, r: Read) -> list[int]:
        data = await self._endpoint._read_retrying_busy(self.device, unit, r)
        return list(struct.unpack(f">{r.count}H", data))

    async def read_blocks(self, unit: int, reads: list[Read]) -> list[bytes]:
        """Every read of a poll, as the answers' bytes (what the decoder takes fastest)."""
        endpoint, device = self._endpoint, self.device
        blocks = []
        for r in reads:  # _read_retrying_busy, inlined: every poll runs this
            try:
                blocks.append(await endpoint._request(device, unit, r))
            except DeviceException as e:
                if e.code != DEVICE_BUSY:
                    raise
                blocks.append(await endpoint._retry_busy(device, unit, r))
        return blocks
