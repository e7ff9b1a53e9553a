"""The lock a shared connection is held with: healthy devices first, failing ones after.

A gateway (Modbus or a serial bus) answers one request at a time, so its devices take turns.
A failing device costs a whole timeout when its turn comes; handing the connection to waiting
healthy devices first, and making a failing one wait a moment before it asks, puts that
timeout after the healthy polls due at the same instant instead of before them.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools

# How long a failing device lets healthy ones due at the same instant queue before it asks:
# the timers of one slot fire within a few ms of each other, even on a loaded machine.
LOW_PRIORITY_GRACE_S = 0.02


class PriorityLock:
    """An asyncio lock that hands over to waiting healthy devices before failing ones."""

    def __init__(self) -> None:
        self._held = False
        self._waiters: list[tuple[int, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()

    async def acquire(self, low: bool) -> None:
        if not self._held and not self._waiters:
            self._held = True
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiters, (1 if low else 0, next(self._seq), fut))
        try:
            await fut
        except asyncio.CancelledError:
            if fut.done() and not fut.cancelled():
                self.release()  # handed the lock just as we were cancelled: pass it on
            raise

    def release(self) -> None:
        while self._waiters:
            _, _, fut = heapq.heappop(self._waiters)
            if not fut.done():
                fut.set_result(None)  # the lock passes straight to this waiter
                return
        self._held = False
