"""Open the state database: a private folder (0700), a private file (0600), WAL, migrated.

The collector writes alarm state while technicians acknowledge alarms from the CLI (and later
the web page) in other processes, so the database runs in WAL mode with a busy timeout: readers
never wait and a writer waits its turn. SQLite creates its ``-wal`` and ``-shm`` files with the
database file's own permissions, so creating the file 0600 first keeps all three private.

One collector per state folder: ``CollectorLock`` (``flock`` on ``collector.lock``) refuses a
second one, which would hand out the same alarm ids. The CLI takes no lock.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import sqlite3
import stat
from pathlib import Path

from statedb.errors import StateError, StateLocked
from statedb.migrations import migrate

log = logging.getLogger(__name__)

DB_NAME = "state.sqlite3"
LOCK_NAME = "collector.lock"
BUSY_TIMEOUT_S = 10.0


def prepare_dir(path: Path) -> Path:
    """Create the state folder 0700, or make an existing one 0700 (it holds who acked what)."""
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode != 0o700:
            os.chmod(path, 0o700)
            log.info("state folder %s was %o; now 0700", path, mode)
    except OSError as e:
        raise StateError(f"state folder {path}: {e.strerror or e}") from e
    return path


def connect(state_dir: Path, *, create: bool = True) -> sqlite3.Connection:
    """A connection to the migrated database in ``state_dir`` (autocommit; explicit BEGIN)."""
    state_dir = Path(state_dir)
    path = state_dir / DB_NAME
    if not path.exists():
        if not create:
            raise StateError(f"no state database in {state_dir} (has a collector run with "
                             "this config's state_dir?)")
        prepare_dir(state_dir)
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
            os.close(fd)
        except FileExistsError:
            pass  # another process made it a moment ago
        except OSError as e:
            raise StateError(f"cannot create {path}: {e.strerror or e}") from e
    try:
        conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")  # WAL: durable at checkpoints, never torn
        conn.execute("PRAGMA foreign_keys=ON")
    except sqlite3.Error as e:
        raise StateError(f"cannot open {path}: {e}") from e
    migrate(conn, source=str(path))
    return conn


class CollectorLock:
    """An exclusive ``flock`` on the state folder, held by the one collector that uses it."""

    def __init__(self, state_dir: Path) -> None:
        self.path = Path(state_dir) / LOCK_NAME
        self._fd: int | None = None

    def acquire(self) -> None:
        prepare_dir(self.path.parent)
        try:
            fd = os.open(self.path, os.O_CREAT | os.O_RDWR, 0o600)
        except OSError as e:
            raise StateError(f"cannot create {self.path}: {e.strerror or e}") from e
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise StateLocked(f"state folder {self.path.parent} is in use by another "
                              "collector; give each collector its own state_dir") from None
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
