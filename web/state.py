"""The state database as the page uses it: one connection per worker thread.

Starlette runs blocking work (SQLite, scrypt, InfluxDB queries) in a thread pool; a SQLite
connection must stay in the thread that made it, so each worker thread opens its own, lazily,
through statedb (the collector's alarm state database: a 0700 folder, a 0600 file, WAL, its
migrations applied, the web tables among them). The page takes no collector lock: it writes
only acknowledgements and its own tables, as the CLI does.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from starlette.concurrency import run_in_threadpool

from collector.alarms.store import AlarmStore
from statedb.db import connect
from web.accounts import Accounts

T = TypeVar("T")


class StateDB:
    """Per-thread connections to one state database, and the stores built on them."""

    def __init__(self, state_dir: Path, accounts_options: dict[str, float]) -> None:
        self.state_dir = Path(state_dir)
        self._options = accounts_options
        self._local = threading.local()
        connect(self.state_dir).close()  # create and migrate now: fail at start, not later

    def accounts(self) -> Accounts:
        found = getattr(self._local, "accounts", None)
        if found is None:
            found = self._local.accounts = Accounts(connect(self.state_dir),
                                                    **self._options)  # type: ignore[arg-type]
        return found

    def alarms(self) -> AlarmStore:
        found = getattr(self._local, "alarms", None)
        if found is None:
            found = self._local.alarms = AlarmStore(self.state_dir)
        return found

    async def run(self, fn: Callable[..., T], *args: object) -> T:
        """``fn(*args)`` in a worker thread (blocking work off the event loop)."""
        return await run_in_threadpool(fn, *args)

    async def accounts_do(self, fn: Callable[..., T], *args: object) -> T:
        """``fn(accounts, *args)`` in a worker thread, with that thread's connection."""
        return await run_in_threadpool(lambda: fn(self.accounts(), *args))
