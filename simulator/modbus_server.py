"""The simulator's Modbus TCP edge: pymodbus servers answering from register images.

One server per host:port serves every unit id configured there, as a SmartLogger or an RS485
gateway does. It counts each function code it receives, so a test can prove the collector
never writes, and honours per-unit fault switches (no answer, slow answer, exception).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Mapping

from pymodbus.constants import ExcCodes
from pymodbus.datastore import ModbusServerContext
from pymodbus.exceptions import NoSuchIdException
from pymodbus.pdu import ModbusPDU
from pymodbus.server import ModbusTcpServer

from simulator.devices import SimDevice

TABLE_OF = {3: "holding", 4: "input"}
STOP_TIMEOUT_S = 10.0


class UnitBehaviour:
    """Fault switches for one unit id; the fault injector flips them."""

    __slots__ = ("_asked", "dead", "delay_s", "every", "exception")

    def __init__(self) -> None:
        self.dead = False  # never answer (the client times out)
        self.delay_s = 0.0  # answer late
        self.exception: int | None = None  # answer with this Modbus exception code ...
        self.every = 1  # ... to every n-th request only (1: all; 2: a busy device, retry works)
        self._asked = 0

    def exception_now(self) -> int | None:
        if self.exception is None:
            return None
        self._asked += 1
        return self.exception if (self._asked - 1) % self.every == 0 else None


class ImageContext(ModbusServerContext):
    """A server context over our register images (pymodbus's own blocks are bypassed)."""

    def __init__(self, units: Mapping[int, SimDevice]) -> None:  # no super(): see below
        # pymodbus calls async_getValues/async_setValues directly when old_simulator is set
        self.old_simulator = True
        self.simdevices = []
        self.units = dict(units)
        self.behaviour = {u: UnitBehaviour() for u in self.units}
        self.function_codes: Counter[int] = Counter()

    def device_ids(self) -> list[int]:
        return list(self.units)

    async def async_getValues(self, device_id: int, func_code: int, address: int,
                              count: int = 1) -> list[int] | list[bool] | ExcCodes:
        dev = self.units.get(device_id)
        if dev is None:
            return ExcCodes.GATEWAY_NO_RESPONSE  # what a gateway says for a unit it lacks
        b = self.behaviour[device_id]
        if b.dead:
            raise NoSuchIdException(f"unit {device_id} is dead")  # server stays silent
        if b.delay_s:
            await asyncio.sleep(b.delay_s)
        if (code := b.exception_now()) is not None:
            return ExcCodes(code)
        table = TABLE_OF.get(func_code)
        if table is None:
            return ExcCodes.ILLEGAL_FUNCTION
        words = dev.image.read(table, address, count)
        return ExcCodes.ILLEGAL_ADDRESS if words is None else words

    async def async_setValues(self, device_id: int, func_code: int, address: int,
                              values: list[int] | list[bool]) -> ExcCodes | None:
        return ExcCodes.ILLEGAL_FUNCTION  # read-only device: writes are refused (and counted)


class SimServer:
    """A Modbus TCP server on host:port for the given unit ids."""

    def __init__(self, host: str, port: int, units: Mapping[int, SimDevice]) -> None:
        self.host, self.port = host, port
        self.context = ImageContext(units)
        self._server: ModbusTcpServer | None = None

    def _trace_pdu(self, sending: bool, pdu: ModbusPDU) -> ModbusPDU:
        if not sending:
            self.context.function_codes[pdu.function_code] += 1
        return pdu

    async def start(self) -> None:
        self._server = ModbusTcpServer(
            self.context, address=(self.host, self.port), ignore_missing_devices=True,
            trace_pdu=self._trace_pdu,
        )
        await self._server.serve_forever(background=True)

    async def stop(self) -> None:
        if self._server is not None:
            server, self._server = self._server, None
            # shutdown only closes sockets today; bounded all the same, so a future pymodbus
            # that waits for its connections can never hang a test or the demo
            await asyncio.wait_for(server.shutdown(), STOP_TIMEOUT_S)
