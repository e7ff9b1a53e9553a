"""Modbus TCP edge of the collector: one connection per host:port, requests serialised.

Many devices behind one gateway share its connection. A gateway answers one request at a time,
so a lock serialises them; a device's whole poll (its "cycle") holds the lock once. The gateway
workarounds peer systems need are options here: a pause after connecting (Huawei dongles), a
pause between requests, closing the connection after every cycle (single-master devices), and
one retry on exception 6 (device busy).

A dead unit id costs a full timeout each time it is asked. Two things keep it from stalling the
others: its poller backs off (fewer asks), and the lock serves healthy devices first, so a
failing device's timeout falls after the healthy polls due at the same instant, not before.

pymodbus exceptions are mapped to collector errors here and nowhere else.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

from pymodbus.client import AsyncModbusTcpClient
from pymodbus.exceptions import ModbusException, ModbusIOException
from pymodbus.pdu import ExceptionResponse

from collector.errors import DeviceException, DeviceTimeout, SourceError
from collector.sources.modbus.plan import Read
from collector.sources.prioritylock import LOW_PRIORITY_GRACE_S, PriorityLock

log = logging.getLogger(__name__)
# pymodbus logs every unanswered request at ERROR; a sleeping inverter is not an error, and
# we report failures ourselves, per device, once per change.
logging.getLogger("pymodbus.logging").setLevel(logging.CRITICAL)

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
        self._client = AsyncModbusTcpClient(host, port=port, timeout=self.timeout_s, retries=0,
                                            reconnect_delay=0)
        self._lock = PriorityLock()
        self._last_request_end = 0.0
        self.connects = 0  # successful connects; close_after_cycle makes one per cycle
        self.busy_retries = 0
        self.protocol_errors = 0  # answers pymodbus could not parse (garbage, wrong counts)
        self._garbled: str | None = None  # the last one, while the request it broke waits
        self._garbled_logged: str | None = None

    def owns(self, protocol: object) -> bool:
        """Whether ``protocol`` (from an asyncio error context) is this endpoint's connection."""
        return protocol is not None and protocol is getattr(self._client, "ctx", None)

    def protocol_error(self, error: object) -> None:
        """pymodbus could not parse an answer (asyncio reported it from data_received).

        The transport is closed by asyncio; the request waiting for that answer then fails and
        says "garbled" instead of "no answer". Logged once per change of error, per endpoint:
        a device that always answers garbage must not write a traceback per read.
        """
        text = str(error) or type(error).__name__
        self.protocol_errors += 1
        self._garbled = text
        if text != self._garbled_logged:
            log.warning("%s: an answer could not be parsed (%s); reconnecting", self.label, text)
            self._garbled_logged = text
        else:
            log.debug("%s: another unparsable answer (%s)", self.label, text)

    @contextlib.asynccontextmanager
    async def cycle(self, device: str, low_priority: bool = False) -> AsyncIterator[Cycle]:
        """Hold the connection for one device's poll; healthy devices (not low_priority) first."""
        if low_priority:
            await asyncio.sleep(LOW_PRIORITY_GRACE_S)
        await self._lock.acquire(low_priority)
        try:
            yield Cycle(self, device)
        finally:
            if self.options.close_after_cycle:
                self._client.close()
            self._lock.release()

    async def read(self, device: str, unit: int, r: Read) -> list[int]:
        """Read ``r`` from unit ``unit`` in a cycle of its own (discovery, scans)."""
        async with self.cycle(device) as c:
            return await c.read(unit, r)

    async def close(self) -> None:
        self._client.close()

    # -- inside a cycle (the lock is held) ---------------------------------------------------
    async def _ensure_connected(self, device: str) -> None:
        if self._client.connected:
            return
        try:
            ok = await asyncio.wait_for(self._client.connect(), self.timeout_s)
        except (TimeoutError, OSError) as e:
            raise SourceError(device, f"cannot connect to {self.label}: {e!r}") from e
        if not ok:
            raise SourceError(device, f"cannot connect to {self.label}")
        self.connects += 1
        if self.options.pause_after_connect_s:
            await asyncio.sleep(self.options.pause_after_connect_s)

    async def _pause_between(self) -> None:
        gap = self.options.pause_between_requests_s
        if gap:
            wait = self._last_request_end + gap - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)

    async def _request(self, device: str, unit: int, r: Read) -> list[int]:
        await self._ensure_connected(device)
        await self._pause_between()
        self._garbled = None
        fn = (self._client.read_holding_registers if r.table == "holding"
              else self._client.read_input_registers)
        try:
            # pymodbus enforces the timeout itself; the outer bound only guards against a hang
            rr = await asyncio.wait_for(fn(r.address, count=r.count, device_id=unit),
                                        self.timeout_s * 1.5)
        except TimeoutError as e:
            self._raise_garbled(device, unit, e)
            raise DeviceTimeout(device, f"no answer within {self.timeout_s:g} s "
                                        f"(unit {unit} at {self.label})") from e
        except ModbusException as e:
            # ModbusIOException is pymodbus's "no response after retries"; the text match is
            # a fallback should a later pymodbus raise the base class for the same thing
            if isinstance(e, ModbusIOException) or "no response" in str(e).lower() \
                    or "timeout" in str(e).lower():
                # a late answer is dropped by pymodbus (transaction id), so no reconnect
                self._raise_garbled(device, unit, e)
                raise DeviceTimeout(device, f"no answer within {self.timeout_s:g} s "
                                            f"(unit {unit} at {self.label})") from e
            self._client.close()  # a confused connection: start afresh next time
            raise SourceError(device, f"Modbus error at {self.label}: {e}") from e
        finally:
            self._last_request_end = time.monotonic()
        if isinstance(rr, ExceptionResponse) or rr.isError():
            raise DeviceException(device, int(getattr(rr, "exception_code", 0)), r.address)
        regs = list(rr.registers)
        if len(regs) != r.count:
            raise SourceError(device, f"asked {r.count} registers at {r.address}, got {len(regs)}")
        return regs

    def _raise_garbled(self, device: str, unit: int, cause: Exception) -> None:
        if self._garbled is not None:
            garbled, self._garbled = self._garbled, None
            raise SourceError(device, f"garbled answer from unit {unit} at {self.label}: "
                                      f"{garbled}") from cause

    async def _read_retrying_busy(self, device: str, unit: int, r: Read) -> list[int]:
        try:
            return await self._request(device, unit, r)
        except DeviceException as e:
            if e.code != DEVICE_BUSY:
                raise
        # busy: a gateway mid-way through another master's request; one more try, a little later
        self.busy_retries += 1
        await asyncio.sleep(max(self.options.pause_between_requests_s,
                                min(0.2, self.timeout_s / 4)))
        return await self._request(device, unit, r)


class Cycle:
    """One device's hold on the connection: its reads go out back to back."""

    def __init__(self, endpoint: ModbusEndpoint, device: str) -> None:
        self._endpoint = endpoint
        self.device = device

    async def read(self, unit: int, r: Read) -> list[int]:
        return await self._endpoint._read_retrying_busy(self.device, unit, r)
