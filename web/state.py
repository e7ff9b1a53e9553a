"""The state database as the page uses it: one connection per worker thread.

Starlette runs blocking work (SQLite, scrypt, InfluxDB queries) in a thread pool; a SQLite
connection must stay in the thread that made it, so each worker thread opens its own, lazily.
The file is the collector's alarm state database (WAL: readers never wait, a writer waits its
turn), found in the config's state folder.
"""

from __future__ import annotations

import os
import sqlite3
import stat
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from starlette.concurrency import run_in_threadpool

from web.accounts import SCHEMA, Accounts

T = TypeVar("T")
DB_NAME = "state.sqlite3"


def state_dir_of(config: object) -> Path:
    """The state folder: the config's ``state_dir``, else ``state`` beside the spool folder."""
    explicit = getattr(config, "state_dir", None)
    if explicit:
        return Path(explicit)
    return Path(config.influxdb.spool_dir).parent / "state"  # type: ignore[attr-defined]


def connect(state_dir: Path) -> sqlite3.Connection:
    """Open (creating 0700/0600 if needed) the state database with the web tables in it."""
    state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    if stat.S_IMODE(state_dir.stat().st_mode) != 0o700:
        os.chmod(state_dir, 0o700)
    path = state_dir / DB_NAME
    if not path.exists():
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
    conn = sqlite3.connect(path, timeout=10.0, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("BEGIN IMMEDIATE")
    try:
        if conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'users'").fetchone() is None:
            for sql in SCHEMA:
                conn.execute(sql)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return conn


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

    async def run(self, fn: Callable[..., T], *args: object) -> T:
        """``fn(*args)`` in a worker thread (blocking work off the event loop)."""
        return await run_in_threadpool(fn, *args)

    async def accounts_do(self, fn: Callable[..., T], *args: object) -> T:
        """``fn(accounts, *args)`` in a worker thread, with that thread's connection."""
        return await run_in_threadpool(lambda: fn(self.accounts(), *args))
