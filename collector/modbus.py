"""Modbus TCP edge of the collector: one connection per host:port, requests serialised.

Many devices behind one gateway share its connection; a lock serialises requests on it (a
gateway answers one at a time anyway). pymodbus exceptions are mapped to collector errors here
and nowhere else.
"""

from __future__ import annotations

import asyncio
import logging

from pymodbus.client import AsyncModbusTcpClient
from pymodbus.exceptions import ModbusException
from pymodbus.pdu import ExceptionResponse

from collector.errors import DeviceException, DeviceTimeout, SourceError
from collector.plan import Read

log = logging.getLogger(__name__)


class ModbusEndpoint:
    def __init__(self, host: str, port: int, timeout_s: float = 2.0) -> None:
        self.host, self.port = host, port
        self.timeout_s = timeout_s
        self._client = AsyncModbusTcpClient(host, port=port, timeout=timeout_s, retries=0,
                                            reconnect_delay=0)
        self._lock = asyncio.Lock()

    @property
    def name(self) -> str:
        return f"{self.host}:{self.port}"

    async def _ensure_connected(self, device: str) -> None:
        if self._client.connected:
            return
        try:
            ok = await asyncio.wait_for(self._client.connect(), self.timeout_s)
        except (TimeoutError, OSError) as e:
            raise SourceError(device, f"cannot connect to {self.name}: {e!r}") from e
        if not ok:
            raise SourceError(device, f"cannot connect to {self.name}")

    async def read(self, device: str, unit: int, r: Read) -> list[int]:
        """Read ``r`` from unit ``unit``; raise a SourceError subclass naming ``device``."""
        async with self._lock:
            await self._ensure_connected(device)
            fn = (self._client.read_holding_registers if r.table == "holding"
                  else self._client.read_input_registers)
            try:
                rr = await asyncio.wait_for(fn(r.address, count=r.count, device_id=unit),
                                            self.timeout_s * 1.5)
            except TimeoutError as e:
                raise DeviceTimeout(device, f"no answer within {self.timeout_s:g} s "
                                            f"(unit {unit} at {self.name})") from e
            except ModbusException as e:
                if "timeout" in str(e).lower() or "no response" in str(e).lower():
                    raise DeviceTimeout(device, f"no answer (unit {unit} at {self.name})") from e
                self._client.close()  # a confused connection: start afresh next time
                raise SourceError(device, f"Modbus error at {self.name}: {e}") from e
        if isinstance(rr, ExceptionResponse) or rr.isError():
            code = getattr(rr, "exception_code", 0)
            raise DeviceException(device, int(code), r.address)
        regs = list(rr.registers)
        if len(regs) != r.count:
            raise SourceError(device, f"asked {r.count} registers at {r.address}, got {len(regs)}")
        return regs

    async def close(self) -> None:
        self._client.close()
