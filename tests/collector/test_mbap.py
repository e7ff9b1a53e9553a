"""The collector's own Modbus TCP client against a hand-written server on loopback: frames split
or joined by TCP, late answers, answers that cannot be ours."""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Callable

import pytest

from collector.errors import DeviceTimeout, SourceError
from collector.sources.modbus.endpoint import ModbusEndpoint
from collector.sources.modbus.plan import Read

Answer = Callable[[int, int, int, int, int], list[bytes]]  # tid, unit, fc, addr, count -> chunks


def frame(tid: int, unit: int, fc: int, words: list[int]) -> bytes:
    body = struct.pack(f">BB{len(words)}H", fc, 2 * len(words), *words)
    return struct.pack(">HHHB", tid, 0, len(body) + 1, unit) + body


async def serve(answer: Answer) -> tuple[asyncio.Server, int]:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                tid, _, _, unit, fc, addr, count = struct.unpack(
                    ">HHHBBHH", await reader.readexactly(12))
                for chunk in answer(tid, unit, fc, addr, count):
                    writer.write(chunk)
                    await writer.drain()
                    await asyncio.sleep(0.01)  # separate TCP segments
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


async def test_an_answer_split_over_segments_is_put_together() -> None:
    def answer(tid: int, unit: int, fc: int, addr: int, count: int) -> list[bytes]:
        data = frame(tid, unit, fc, list(range(addr, addr + count)))
        return [data[:3], data[3:9], data[9:]]

    server, port = await serve(answer)
    endpoint = ModbusEndpoint("127.0.0.1", port, 1.0)
    try:
        assert await endpoint.read("d", 5, Read("holding", 100, 4)) == [100, 101, 102, 103]
        assert await endpoint.read("d", 5, Read("input", 7, 1)) == [7]
    finally:
        await endpoint.close()
        server.close()
    assert endpoint.connects == 1


async def test_a_late_answer_is_dropped_and_the_next_read_gets_its_own() -> None:
    held: list[bytes] = []

    def answer(tid: int, unit: int, fc: int, addr: int, count: int) -> list[bytes]:
        if addr == 1:  # too late: sent with the next request's answer, just before it
            held.append(frame(tid, unit, fc, [111] * count))
            return []
        return [held.pop() + frame(tid, unit, fc, [222] * count)] if held else \
            [frame(tid, unit, fc, [222] * count)]

    server, port = await serve(answer)
    endpoint = ModbusEndpoint("127.0.0.1", port, 0.2)
    try:
        with pytest.raises(DeviceTimeout):
            await endpoint.read("d", 1, Read("holding", 1, 2))
        assert await endpoint.read("d", 1, Read("holding", 2, 2)) == [222, 222]
    finally:
        await endpoint.close()
        server.close()
    assert endpoint.connects == 1  # a timeout is no reason to reconnect


async def test_an_answer_from_another_unit_is_garbled_and_reconnects() -> None:
    def answer(tid: int, unit: int, fc: int, addr: int, count: int) -> list[bytes]:
        return [frame(tid, unit + 1 if addr == 1 else unit, fc, [5] * count)]

    server, port = await serve(answer)
    endpoint = ModbusEndpoint("127.0.0.1", port, 1.0)
    try:
        with pytest.raises(SourceError, match="garbled answer from unit 3"):
            await endpoint.read("d", 3, Read("holding", 1, 2))
        assert await endpoint.read("d", 3, Read("holding", 2, 2)) == [5, 5]
    finally:
        await endpoint.close()
        server.close()
    assert endpoint.protocol_errors == 1 and endpoint.connects == 2
