"""Off the hot path: transitions are stored, then handed to the sinks, then to notifications.

    Lifecycle --transitions--> queue --> StoreThread: persist (+ outbox rows, one transaction)
                                      --> Pipeline.deliver: alarm points to every sink
                                      --> mark published; Dispatcher.submit(outbox rows)

The stage only appends to the queue (it never waits); this task drains it in batches, so a
burst of transitions is one SQLite transaction. SQLite runs in one thread of its own
(``StoreThread``), which owns the connection: the event loop never waits on the disk.
Storing before publishing means a crash can lose a point on its way to the sinks, never a
transition: what was stored but not published is published at the next start.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from collector.alarms.model import Transition
from collector.alarms.notify.dispatcher import Dispatcher
from collector.alarms.notify.rules import route
from collector.alarms.points import to_reading
from collector.alarms.store import AlarmStore, Outgoing
from collector.reading import Reading
from config.alarm_settings import Rule

log = logging.getLogger(__name__)
T = TypeVar("T")
Deliver = Callable[[Sequence[Reading]], Awaitable[None]]


class StoreThread:
    """The alarm store, used from one worker thread only (sqlite3 connections are not shared)."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        self._ex = ThreadPoolExecutor(1, thread_name_prefix="alarm-store")
        self.store: AlarmStore | None = None

    async def open(self) -> AlarmStore:
        self.store = await self.run(AlarmStore, self.state_dir)
        return self.store

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._ex, functools.partial(fn, *args))

    async def close(self) -> None:
        if self.store is not None:
            await self.run(self.store.close)
            self.store = None
        self._ex.shutdown(wait=True)


class Publisher:
    def __init__(self, thread: StoreThread, deliver: Deliver, rules: Sequence[Rule],
                 dispatcher: Dispatcher | None) -> None:
        self.thread = thread
        self.deliver = deliver
        self.rules = list(rules)
        self.dispatcher = dispatcher
        self._queue: asyncio.Queue[list[tuple[Transition, bool]]] = asyncio.Queue()
        self._idle = asyncio.Event()
        self._idle.set()
        self._task: asyncio.Task[None] | None = None
        self.published = 0  # transitions handed to the sinks

    def put(self, transitions: list[Transition], routed: bool = False) -> None:
        """Queue transitions; ``routed``: their outbox rows exist already (a leftover)."""
        if transitions:
            self._idle.clear()
            self._queue.put_nowait([(t, routed) for t in transitions])

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="alarm-publisher")

    async def flush(self) -> None:
        """Return once everything queued so far is stored and handed to the sinks."""
        await self._idle.wait()

    async def stop(self) -> None:
        await self.flush()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            batch = await self._queue.get()
            while not self._queue.empty():
                batch += self._queue.get_nowait()
            try:
                await self._publish(batch)
            except Exception as e:  # the disk, a sink: keep the loop alive, say so loudly
                log.error("alarm transitions not published (%r); they are stored when the "
                          "database allows and published at the next start", e)
            if self._queue.empty():
                self._idle.set()

    async def _publish(self, items: list[tuple[Transition, bool]]) -> None:
        assert self.thread.store is not None
        batch = [t for t, _ in items]
        routes = [[] if routed else route(t, self.rules) for t, routed in items]
        stored = await self.thread.run(self.thread.store.persist, batch, routes)
        await self.deliver([to_reading(t) for t in batch])
        await self.thread.run(self.thread.store.mark_published, [tid for tid, _ in stored])
        self.published += len(batch)
        if self.dispatcher is not None:
            self.dispatcher.submit(
                Outgoing(oid, ch, _with_id(t, tid), 0)
                for t, (tid, rows) in zip(batch, stored, strict=True) for oid, ch in rows)


def _with_id(t: Transition, tid: int) -> Transition:
    return Transition(t.alarm, t.state, t.ts_ns, t.actor, t.note, t.origin, t.notify, tid)
