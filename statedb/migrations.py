"""Ordered schema migrations: the database records each version it went through.

A migration is never edited once released: a change to the schema is a new entry at the end,
with the next version number. ``migrate`` applies the missing ones in order, each in its own
transaction together with its row in ``schema_version``, so a crash leaves the database at a
version it can say it is at. A database newer than this code is refused rather than guessed at.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass

from statedb.errors import SchemaError


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    description: str
    statements: tuple[str, ...]


ALARMS_V1 = (
    # one row per alarm occurrence; at most one open (not closed) per (device, alarm)
    """CREATE TABLE alarms (
        id INTEGER PRIMARY KEY,
        plant TEXT NOT NULL, device TEXT NOT NULL, village TEXT,
        alarm TEXT NOT NULL, kind TEXT NOT NULL, severity TEXT NOT NULL, code INTEGER,
        name TEXT NOT NULL, name_zh TEXT NOT NULL,
        action TEXT NOT NULL DEFAULT '', action_zh TEXT NOT NULL DEFAULT '',
        detail TEXT NOT NULL DEFAULT '', value REAL,
        raised_ns INTEGER NOT NULL, last_raised_ns INTEGER NOT NULL,
        raises INTEGER NOT NULL DEFAULT 1, flapping INTEGER NOT NULL DEFAULT 0,
        ended_ns INTEGER, closed_ns INTEGER,
        acked_ns INTEGER, acked_by TEXT, ack_note TEXT
    )""",
    "CREATE UNIQUE INDEX alarms_one_open ON alarms(device, alarm) WHERE closed_ns IS NULL",
    "CREATE INDEX alarms_plant_raised ON alarms(plant, raised_ns)",
    # every state change; published = handed to the sinks (InfluxDB, MQTT)
    """CREATE TABLE transitions (
        id INTEGER PRIMARY KEY,
        alarm_id INTEGER NOT NULL REFERENCES alarms(id),
        ts_ns INTEGER NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('raised', 'acknowledged', 'cleared', 'closed')),
        actor TEXT, note TEXT, value REAL, detail TEXT NOT NULL DEFAULT '',
        flapping INTEGER NOT NULL DEFAULT 0,
        origin TEXT NOT NULL, published INTEGER NOT NULL DEFAULT 0
    )""",
    "CREATE INDEX transitions_alarm ON transitions(alarm_id, id)",
    "CREATE INDEX transitions_unpublished ON transitions(id) WHERE published = 0",
    # notifications not yet delivered, per channel: survive a restart, retried until sent
    """CREATE TABLE outbox (
        id INTEGER PRIMARY KEY,
        channel TEXT NOT NULL,
        transition_id INTEGER NOT NULL REFERENCES transitions(id),
        attempts INTEGER NOT NULL DEFAULT 0,
        sent_at REAL
    )""",
    "CREATE INDEX outbox_pending ON outbox(channel, id) WHERE sent_at IS NULL",
)

WEB_V2 = (
    # the web page's accounts (web/accounts.py); made by `pvrelief users`, never by the page
    """CREATE TABLE users (
        name TEXT PRIMARY KEY,
        role TEXT NOT NULL CHECK (role IN ('technician', 'finance', 'admin')),
        password TEXT NOT NULL,
        created REAL NOT NULL,
        disabled INTEGER NOT NULL DEFAULT 0
    )""",
    # token_hash: SHA-256 of the cookie's token; the token itself is never stored
    """CREATE TABLE sessions (
        token_hash TEXT PRIMARY KEY,
        user TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,
        csrf TEXT NOT NULL,
        created REAL NOT NULL,
        last_seen REAL NOT NULL
    )""",
    "CREATE INDEX sessions_user ON sessions(user)",
    # wrong passwords per 'name:<user>' and per 'addr:<client address>', for throttling
    """CREATE TABLE login_failures (
        key TEXT PRIMARY KEY,
        failures INTEGER NOT NULL,
        last REAL NOT NULL,
        locked_until REAL NOT NULL DEFAULT 0
    )""",
)

MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "alarms, their transitions and the notification outbox", ALARMS_V1),
    Migration(2, "web page: accounts, sessions and login failures", WEB_V2),
)
LATEST = MIGRATIONS[-1].version

_VERSION_TABLE = """CREATE TABLE IF NOT EXISTS schema_version (
    version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied_at REAL NOT NULL)"""


def current_version(conn: sqlite3.Connection) -> int:
    row = conn.execute("SELECT max(version) FROM schema_version").fetchone()
    return int(row[0] or 0)


def migrate(conn: sqlite3.Connection, migrations: tuple[Migration, ...] = MIGRATIONS,
            source: str = "state database") -> int:
    """Bring the database to the newest version; return the version it is at.

    ``conn`` must be in autocommit mode (``isolation_level=None``): each migration runs in an
    explicit ``BEGIN IMMEDIATE``, so two processes starting at once migrate once.
    """
    latest = migrations[-1].version if migrations else 0
    try:
        conn.execute(_VERSION_TABLE)
        for m in migrations:
            conn.execute("BEGIN IMMEDIATE")
            try:
                at = current_version(conn)  # read again under the write lock
                if at > latest:
                    raise SchemaError(f"{source} is at schema version {at}, newer than this "
                                      f"pvrelief knows ({latest}): upgrade pvrelief")
                if m.version <= at:
                    conn.execute("ROLLBACK")
                    continue
                if m.version != at + 1:
                    raise SchemaError(f"{source}: migration {m.version} follows {at}; "
                                      "versions must be consecutive")
                for sql in m.statements:
                    conn.execute(sql)
                conn.execute("INSERT INTO schema_version VALUES (?, ?, ?)",
                             (m.version, m.description, time.time()))
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        at = current_version(conn)
    except sqlite3.Error as e:
        raise SchemaError(f"{source}: migration failed: {e}") from e
    if at > latest:
        raise SchemaError(f"{source} is at schema version {at}, newer than this pvrelief "
                          f"knows ({latest}): upgrade pvrelief")
    return at
