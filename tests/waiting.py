"""Waiting for a condition in a test: poll it until true, fail loudly at a deadline.

One helper for every test, so that none sleeps a fixed time and hopes: a slow machine makes a
test slower, never red.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable

Predicate = Callable[[], bool | Awaitable[bool]]


async def wait_until(predicate: Predicate, timeout: float = 30.0, what: str = "condition",
                     every_s: float = 0.02) -> None:
    """Await until ``predicate()`` (a bool, or an awaitable of one) is true."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        result = predicate()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return
        if loop.time() > deadline:
            raise AssertionError(f"not met within {timeout:g} s: {what}")
        await asyncio.sleep(every_s)


def wait_until_sync(predicate: Callable[[], bool], timeout: float = 30.0,
                    what: str = "condition", every_s: float = 0.1) -> None:
    """The same outside an event loop (a child process, a server started by a fixture)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"not met within {timeout:g} s: {what}")
        time.sleep(every_s)
