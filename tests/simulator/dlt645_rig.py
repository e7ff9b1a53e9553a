"""Test helpers: a plant with DL/T 645 meters behind a simulated gateway, and a bare client
that sends one request over TCP and waits for the answer (the collector's codec reads it)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

from collector.sources.dlt645.errors import Dlt645Error
from collector.sources.dlt645.frame import Frame, FrameBuffer
from config.schema import Config
from localsite.servers import free_port

START = "2020-06-21T11:00:00+08:00"  # late morning on the solstice in Gonghe


def dlt645_config(meters: list[dict[str, Any]], *, faults: list[dict[str, Any]] | None = None,
                  gateway: dict[str, Any] | None = None, modbus: list[dict[str, Any]] | None = None,
                  capacity_kw_ac: float = 60.0) -> Config:
    return Config.model_validate({
        "site": {"id": "test"},
        "simulator": {"start": START, "seed": 3, "tick_s": 10, "faults": faults or []},
        "counties": [{"id": "gonghe", "plants": [{
            "id": "p1", "capacity_kwp_dc": capacity_kw_ac * 1.2,
            "capacity_kw_ac": capacity_kw_ac, "latitude": 36.27, "longitude": 100.62,
            "altitude_m": 2800,
            "devices": [{"port": free_port(), **d} for d in modbus or []],
            "dlt645_gateways": [{"id": "rs485", "port": free_port(), **(gateway or {}),
                                 "meters": meters}],
        }]}],
    })


@dataclass
class Exchange:
    frames: list[Frame] = field(default_factory=list)
    errors: list[Dlt645Error] = field(default_factory=list)
    seconds: float = 0.0  # from the request's write to the last frame's last byte
    noise: int = 0


async def exchange(host: str, port: int, request: bytes, *, frames: int = 1,
                   wait_s: float = 2.0, writer_reader: tuple[Any, Any] | None = None,
                   ) -> Exchange:
    """Send ``request``; collect up to ``frames`` answers (or errors) within ``wait_s``."""
    if writer_reader is None:
        reader, writer = await asyncio.open_connection(host, port)
    else:
        writer, reader = writer_reader
    out = Exchange()
    buf = FrameBuffer()
    t0 = time.perf_counter()
    writer.write(request)
    await writer.drain()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_s
    try:
        while len(out.frames) + len(out.errors) < frames:
            left = deadline - loop.time()
            if left <= 0:
                break
            try:
                data = await asyncio.wait_for(reader.read(4096), left)
            except TimeoutError:
                break
            if not data:
                break
            buf.feed(data)
            while True:
                try:
                    f = buf.pop()
                except Dlt645Error as e:
                    out.errors.append(e)
                    out.seconds = time.perf_counter() - t0
                    continue
                if f is None:
                    break
                out.frames.append(f)
                out.seconds = time.perf_counter() - t0
    finally:
        out.noise = buf.noise
        if writer_reader is None:
            writer.close()
    return out
