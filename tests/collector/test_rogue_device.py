"""A device that answers garbage: counted as failed polls, logged once, never a traceback per read.

Issue 9 measured 648 of 713 log lines in 90 s from four devices answering with a wrong byte
count: asyncio's default handler logged pymodbus's parse error with an 18-line traceback per read.
"""

from __future__ import annotations

import asyncio
import logging
import struct
from collections.abc import Sequence

import pytest

from collector.reading import Reading
from collector.runner import Collector
from collector.sinks.base import CallbackSink
from collector.sources.modbus.source import modbus_source
from tests.simulator.gateway_fleet import bounded, gateway_config, inverters
from tests.waiting import wait_until
from timebase.clock import Clock


async def _wrong_byte_count(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Answer every read with a byte count 4 more than the data that follows."""
    try:
        while True:
            tid, _, length, unit = struct.unpack(">HHHB", await reader.readexactly(7))
            fc, _, count = struct.unpack(">BHH", await reader.readexactly(length - 1))
            body = struct.pack(">BB", fc, (2 * count + 4) & 0xFF) + b"\x00\x01" * count
            writer.write(struct.pack(">HHHB", tid, 0, len(body) + 1, unit) + body)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def test_garbled_answers_fail_the_poll_and_log_once(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    cfg = gateway_config(inverters(4), speed=60.0, timeout_s=0.3,
                         collector={"max_backoff_s": 120})
    cfg.alarms.enabled = False  # the logging of the source and endpoint is what this is about
    port = next(gw.port for _, gw in cfg.gateways())
    server = await asyncio.start_server(_wrong_byte_count, "127.0.0.1", port)
    got: list[Reading] = []

    async def keep(readings: Sequence[Reading]) -> None:
        got.extend(readings)

    clock = Clock.starting(cfg.simulator.start, cfg.simulator.speed)
    collector = Collector(cfg, [CallbackSink(keep)], clock)
    try:
        await collector.start()
        await wait_until(lambda: all(p.state.failures >= 3 for p in collector.pollers), 30,
                         "three failed polls of every device")
    finally:
        await bounded(collector.stop(), 20, "collector.stop()")
        server.close()
        await server.wait_closed()
    assert not got
    endpoint = modbus_source(collector).endpoints[("127.0.0.1", port)]
    assert endpoint.protocol_errors >= 4
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == [], [r.getMessage() for r in errors]
    assert not any("Fatal error" in r.getMessage() for r in caplog.records)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    # one for the endpoint, one per device when it starts failing: not one per read
    assert sum("could not be parsed" in m for m in warnings) == 1, warnings
    assert len(warnings) <= 1 + 4, warnings
    assert all("garbled answer" in (p.state.last_error or "") for p in collector.pollers)
