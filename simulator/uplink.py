"""A plant's 4G uplink as a TCP relay that can be cut: edge collector -> uplink -> broker.

While the link is cut every open connection is reset and new ones are closed as soon as they
are accepted, so publishes fail and the edge spools; when it is restored connections pass
again. Cuts come from the schedule (instants on the simulated clock) or from ``cut()`` and
``restore()``. A reset rather than silence: a real link that drops packets is noticed after
the MQTT keepalive, a reset at once, which keeps tests short and changes nothing else.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence

from timebase.clock import Clock

log = logging.getLogger(__name__)

CHUNK = 64 * 1024
CHECK_EVERY_S = 0.02  # real seconds between looks at the cut schedule


class Uplink:
    def __init__(self, target: tuple[str, int], clock: Clock,
                 cuts: Sequence[tuple[int, int]] = (), listen: tuple[str, int] = ("127.0.0.1", 0),
                 name: str = "uplink") -> None:
        self.target = target
        self.clock = clock
        self.cuts = list(cuts)  # (from_ns, until_ns) on the simulated clock
        self.listen = listen
        self.name = name
        self.port = listen[1]
        self._manual: bool | None = None  # cut()/restore() override the schedule
        self._server: asyncio.Server | None = None
        self._task: asyncio.Task[None] | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self.was_cut = False
        self.connections = 0

    @property
    def is_cut(self) -> bool:
        if self._manual is not None:
            return self._manual
        now = self.clock.now_ns()
        return any(lo <= now < hi for lo, hi in self.cuts)

    def cut(self) -> None:
        self._manual = True
        self._drop_all()

    def restore(self) -> None:
        self._manual = False

    def follow_schedule(self) -> None:
        self._manual = None

    async def start(self) -> Uplink:
        self._server = await asyncio.start_server(self._accept, *self.listen)
        self.port = self._server.sockets[0].getsockname()[1]
        self._task = asyncio.create_task(self._watch(), name=f"{self.name}-schedule")
        return self

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._server is not None:
            self._server.close()
            self._drop_all()
            await self._server.wait_closed()

    async def __aenter__(self) -> Uplink:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def _watch(self) -> None:
        was = False
        while True:
            now_cut = self.is_cut
            if now_cut and not was:
                log.info("%s: cut", self.name)
                self.was_cut = True
                self._drop_all()
            elif was and not now_cut:
                log.info("%s: restored", self.name)
            was = now_cut
            await asyncio.sleep(CHECK_EVERY_S)

    def _drop_all(self) -> None:
        for w in list(self._writers):
            w.transport.abort()
        self._writers.clear()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.is_cut:
            writer.transport.abort()
            return
        try:
            up_r, up_w = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self.connections += 1
        self._writers |= {writer, up_w}
        try:
            await asyncio.gather(_pipe(reader, up_w), _pipe(up_r, writer))
        finally:
            for w in (writer, up_w):
                self._writers.discard(w)
                w.transport.abort()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(CHUNK):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        writer.transport.abort()
