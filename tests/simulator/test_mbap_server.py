"""The simulator's lean Modbus TCP server, checked with pymodbus's client (a party we did not
write): the same answers as the register images, the same fault switches, and an emulated
RS485 bus that carries one transaction at a time."""

from __future__ import annotations

import asyncio
import time

from pymodbus.client import AsyncModbusTcpClient

from config.profiles import load_registry
from config.serial_bus import SerialBus
from localsite.servers import free_port
from simulator.devices import SimInverter
from simulator.modbus_server import SimServer

REGISTRY = load_registry()


def inverter(unit: int) -> SimInverter:
    inv = SimInverter(id=f"inv-{unit}", plant="p", unit_id=unit,
                      profile=REGISTRY["huawei-sun2000"])
    inv.advance(60.0, 52_000.0, 15.0, 40.0, 54_000.0)
    return inv


async def test_answers_as_the_image_and_honours_the_fault_switches() -> None:
    units = {1: inverter(1), 2: inverter(2), 3: inverter(3)}
    server = SimServer("127.0.0.1", free_port(), units, lean=True)
    server.context.behaviour[2].dead = True
    server.context.behaviour[3].exception = 6
    await server.start()
    client = AsyncModbusTcpClient("127.0.0.1", port=server.port, timeout=0.3, retries=0)
    try:
        await client.connect()
        rr = await client.read_holding_registers(32064, count=52, device_id=1)
        assert rr.registers == units[1].image.read("holding", 32064, 52)
        rr = await client.read_holding_registers(32064, count=52, device_id=3)
        assert rr.isError() and rr.exception_code == 6
        rr = await client.read_holding_registers(1, count=2, device_id=1)
        assert rr.isError() and rr.exception_code == 2  # not mapped: illegal address
        rr = await client.read_holding_registers(32064, count=2, device_id=9)
        assert rr.isError() and rr.exception_code == 11  # no such unit behind the gateway
        rr = await client.write_register(32064, 5, device_id=1)
        assert rr.isError() and rr.exception_code == 1  # read-only: writes are refused
        t = time.perf_counter()
        try:
            rr = await client.read_holding_registers(32064, count=2, device_id=2)
            silent = rr.isError()
        except Exception:  # pymodbus raises on no answer
            silent = True
        assert silent and time.perf_counter() - t >= 0.25  # the dead unit said nothing
    finally:
        client.close()
        await server.stop()
    assert server.context.function_codes[6] == 1  # the write was seen and counted


async def test_an_rs485_bus_carries_one_transaction_at_a_time() -> None:
    bus = SerialBus(baud=9600, framing="8N1", turnaround_s=0.02)
    server = SimServer("127.0.0.1", free_port(), {1: inverter(1), 2: inverter(2)}, bus=bus)
    await server.start()
    clients = [AsyncModbusTcpClient("127.0.0.1", port=server.port, timeout=5, retries=0)
               for _ in range(2)]
    try:
        for c in clients:
            await c.connect()
        t0 = time.perf_counter()
        done: list[float] = []

        async def read(client: AsyncModbusTcpClient, unit: int) -> None:
            rr = await client.read_holding_registers(32064, count=52, device_id=unit)
            assert not rr.isError()
            done.append(time.perf_counter() - t0)

        await asyncio.gather(read(clients[0], 1), read(clients[1], 2))
    finally:
        for c in clients:
            c.close()
        await server.stop()
    one = bus.read_s(52)
    assert abs(one - (8 + 109) * 10 / 9600 - 2 * 3.5 * 10 / 9600 - 0.02) < 1e-9
    # two connections, one bus: the second answer waits for the first transaction
    assert sorted(done)[0] >= one * 0.99 and sorted(done)[1] >= 2 * one * 0.99, (done, one)
    assert abs(server.bus_busy_s - 2 * one) < 1e-9
