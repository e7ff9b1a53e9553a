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

from config.serial_bus import SerialBus
from simulator.devices import SimDevice
from simulator.mbap_server import MbapServer

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

    def lookup(self, device_id: int, func_code: int, address: int, count: int
               ) -> tuple[float, list[int] | ExcCodes | None]:
        """(delay in seconds, the answer): words, an exception code, or None for silence."""
        dev = self.units.get(device_id)
        if dev is None:
            return 0.0, ExcCodes.GATEWAY_NO_RESPONSE  # what a gateway says for a unit it lacks
        b = self.behaviour[device_id]
        if b.dead:
            return 0.0, None
        if (code := b.exception_now()) is not None:
            return b.delay_s, ExcCodes(code)
        table = TABLE_OF.get(func_code)
        if table is None:
            return b.delay_s, ExcCodes.ILLEGAL_FUNCTION
        words = dev.image.read(table, address, count)
        return b.delay_s, ExcCodes.ILLEGAL_ADDRESS if words is None else words

    async def async_getValues(self, device_id: int, func_code: int, address: int,
                              count: int = 1) -> list[int] | list[bool] | ExcCodes:
        delay, answer = self.lookup(device_id, func_code, address, count)
        if answer is None:
            raise NoSuchIdException(f"unit {device_id} is dead")  # server stays silent
        if delay:
            await asyncio.sleep(delay)
        return answer

    async def async_setValues(self, device_id: int, func_code: int, address: int,
                              values: list[int] | list[bool]) -> ExcCodes | None:
        return ExcCodes.ILLEGAL_FUNCTION  # read-only device: writes are refused (and counted)


class SimServer:
    """A Modbus TCP server on host:port for the given unit ids.

    pymodbus's server by default; ``lean`` (``simulator.modbus_server: lean``) serves the same
    context from our own small MBAP server (``mbap_server.py``), which costs a fraction per
    request and can emulate the RS485 bus behind a gateway (``bus``), which pymodbus cannot.
    """

    def __init__(self, host: str, port: int, units: Mapping[int, SimDevice],
                 lean: bool = False, bus: SerialBus | None = None) -> None:
        self.host, self.port = host, port
        self.context = ImageContext(units)
        self.lean = lean or bus is not None
        self.bus = bus
        self._server: ModbusTcpServer | None = None
        self._lean: MbapServer | None = None

    def _trace_pdu(self, sending: bool, pdu: ModbusPDU) -> ModbusPDU:
        if not sending:
            self.context.function_codes[pdu.function_code] += 1
        return pdu

    async def start(self) -> None:
        if self.lean:
            self._lean = MbapServer(self.context, self.host, self.port, self.bus)
            await self._lean.start()
            return
        self._server = ModbusTcpServer(
            self.context, address=(self.host, self.port), ignore_missing_devices=True,
            trace_pdu=self._trace_pdu,
        )
        await self._server.serve_forever(background=True)

    @property
    def bus_busy_s(self) -> float:
        """Seconds the emulated RS485 bus carried transactions (0 without a bus)."""
        return self._lean.bus_busy_s if self._lean is not None else 0.0

    async def stop(self) -> None:
        if self._lean is not None:
            await self._lean.stop()  # kept: its counts stay readable after the stop
        if self._server is not None:
            server, self._server = self._server, None
            # shutdown only closes sockets today; bounded all the same, so a future pymodbus
            # that waits for its connections can never hang a test or the demo
            await asyncio.wait_for(server.shutdown(), STOP_TIMEOUT_S)
