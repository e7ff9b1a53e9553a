"""The state database: private files, ordered migrations, one collector per folder."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from statedb.db import DB_NAME, CollectorLock, connect
from statedb.errors import SchemaError, StateError, StateLocked
from statedb.migrations import LATEST, MIGRATIONS, Migration, current_version, migrate


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_folder_0700_and_every_database_file_0600(tmp_path: Path) -> None:
    folder = tmp_path / "state"
    conn = connect(folder)
    conn.execute("BEGIN IMMEDIATE")
    conn.execute("INSERT INTO schema_version VALUES (999, 'probe', 0)")
    conn.execute("ROLLBACK")
    files = sorted(p.name for p in folder.iterdir())
    assert f"{DB_NAME}-wal" in files and f"{DB_NAME}-shm" in files  # WAL mode
    assert _mode(folder) == 0o700
    for p in folder.iterdir():
        assert _mode(p) == 0o600, p.name
    conn.close()


def test_an_existing_folder_is_made_private(tmp_path: Path) -> None:
    folder = tmp_path / "state"
    folder.mkdir(mode=0o755)
    folder.chmod(0o755)
    connect(folder).close()
    assert _mode(folder) == 0o700


def test_migrations_are_consecutive_and_recorded_once(tmp_path: Path) -> None:
    assert [m.version for m in MIGRATIONS] == list(range(1, LATEST + 1))
    conn = connect(tmp_path)
    assert current_version(conn) == LATEST
    assert migrate(conn) == LATEST  # again: nothing to do
    rows = conn.execute("SELECT version FROM schema_version").fetchall()
    assert [r[0] for r in rows] == list(range(1, LATEST + 1))


def test_a_later_migration_is_applied_to_an_older_database(tmp_path: Path) -> None:
    conn = connect(tmp_path)
    extra = (*MIGRATIONS, Migration(LATEST + 1, "a column for the next release",
                                    ("ALTER TABLE alarms ADD COLUMN ticket TEXT",)))
    assert migrate(conn, extra) == LATEST + 1
    conn.execute("SELECT ticket FROM alarms").fetchall()


def test_a_failed_migration_leaves_the_version_as_it_was(tmp_path: Path) -> None:
    conn = connect(tmp_path)
    bad = (*MIGRATIONS, Migration(LATEST + 1, "broken", ("ALTER TABLE nowhere ADD x",)))
    with pytest.raises(SchemaError, match="migration failed"):
        migrate(conn, bad)
    assert current_version(conn) == LATEST


def test_a_database_newer_than_the_code_is_refused(tmp_path: Path) -> None:
    conn = connect(tmp_path)
    conn.execute("INSERT INTO schema_version VALUES (?, 'from the future', 0)", (LATEST + 5,))
    conn.close()
    with pytest.raises(SchemaError, match="newer than this pvrelief"):
        connect(tmp_path)


def test_no_database_and_create_false_says_where_it_looked(tmp_path: Path) -> None:
    with pytest.raises(StateError, match=str(tmp_path)):
        connect(tmp_path, create=False)


def test_one_collector_per_state_folder(tmp_path: Path) -> None:
    first, second = CollectorLock(tmp_path), CollectorLock(tmp_path)
    first.acquire()
    with pytest.raises(StateLocked, match="in use by another collector"):
        second.acquire()
    first.release()
    second.acquire()
    second.release()
