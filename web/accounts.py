"""Accounts, sessions and login throttling, in the state database beside the alarms.

Their tables are migration 2 of the state database (statedb/migrations.py, ``WEB_V2``), so
they live in the same SQLite file as the alarm state and move with its migrations.

Roles: ``technician`` (alarms, plants), ``finance`` (plants, revenue), ``admin`` (all). Accounts
are made from the CLI (``pvrelief users``), never from the page, so a stolen session cannot
make itself a new account.

A session cookie holds a random token; the database keeps only its SHA-256, so a copy of the
database opens no session. Each session has its own CSRF token. A session ends after
``session_idle_minutes`` without a request or ``session_max_hours`` after login.

Login throttling counts wrong passwords per name and per client address. After
``login_failures`` of them within ``WINDOW_S`` every further attempt must wait, first
``login_delay_s``, doubling with each further failure up to ``MAX_DELAY_S``; during the wait
no password is checked at all, so a guesser learns nothing. An address gets four times the
allowance of a name: a county office shares one address among its staff.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import sqlite3
import time
from dataclasses import dataclass
from typing import Literal

from web.errors import AccountError, LoginRefused, LoginThrottled
from web.passwords import check_strength, dummy_hash, hash_password, needs_rehash, verify_password

Role = Literal["technician", "finance", "admin"]
ROLES: tuple[Role, ...] = ("technician", "finance", "admin")
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
WINDOW_S = 15 * 60.0  # failures older than this are forgotten
MAX_DELAY_S = 15 * 60.0
ADDRESS_FACTOR = 4
TOUCH_EVERY_S = 30.0  # last_seen is written at most this often per session

@dataclass(frozen=True, slots=True)
class User:
    name: str
    role: Role
    disabled: bool = False

    def can(self, *roles: Role) -> bool:
        return self.role == "admin" or self.role in roles


@dataclass(frozen=True, slots=True)
class Session:
    token: str  # goes into the cookie; only its hash is stored
    user: User
    csrf: str
    created: float


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Accounts:
    """Users, sessions and failures over one SQLite connection (autocommit mode)."""

    def __init__(self, conn: sqlite3.Connection, *, idle_s: float = 30 * 60,
                 max_age_s: float = 12 * 3600, failures: int = 5, delay_s: float = 30.0) -> None:
        self.conn = conn
        self.idle_s = idle_s
        self.max_age_s = max_age_s
        self.failures = failures
        self.delay_s = delay_s

    # -- accounts (the CLI) -------------------------------------------------------------------
    def add(self, name: str, role: str, password: str) -> User:
        if not NAME_RE.fullmatch(name):
            raise AccountError(f"user name {name[:70]!r}: use 1-64 lowercase letters, digits, "
                               "'.', '_' or '-', starting with a letter or digit")
        if role not in ROLES:
            raise AccountError(f"role {role!r}: one of {', '.join(ROLES)}")
        weak = check_strength(password)
        if weak:
            raise AccountError(weak)
        try:
            self.conn.execute("INSERT INTO users (name, role, password, created) "
                              "VALUES (?, ?, ?, ?)", (name, role, hash_password(password),
                                                      time.time()))
        except sqlite3.IntegrityError:
            raise AccountError(f"user {name!r} exists (pvrelief users passwd to change its "
                               "password)") from None
        return User(name, role)  # type: ignore[arg-type]

    def set_password(self, name: str, password: str) -> None:
        weak = check_strength(password)
        if weak:
            raise AccountError(weak)
        cur = self.conn.execute("UPDATE users SET password = ? WHERE name = ?",
                                (hash_password(password), name))
        if cur.rowcount == 0:
            raise AccountError(f"no user {name!r}")
        self.end_sessions(name)  # whoever knew the old password is logged out

    def set_disabled(self, name: str, disabled: bool) -> None:
        cur = self.conn.execute("UPDATE users SET disabled = ? WHERE name = ?",
                                (int(disabled), name))
        if cur.rowcount == 0:
            raise AccountError(f"no user {name!r}")
        if disabled:
            self.end_sessions(name)

    def users(self) -> list[User]:
        rows = self.conn.execute("SELECT name, role, disabled FROM users ORDER BY name")
        return [User(r[0], r[1], bool(r[2])) for r in rows]

    def end_sessions(self, name: str) -> None:
        self.conn.execute("DELETE FROM sessions WHERE user = ?", (name,))

    # -- logging in ------------------------------------------------------------------------------
    def login(self, name: str, password: str, address: str, now: float | None = None) -> Session:
        """A new session, or LoginRefused / LoginThrottled; every wrong password counts."""
        now = time.time() if now is None else now
        keys = [f"name:{name[:64]}", f"addr:{address}"]
        wait = max(self._locked_for(k, now) for k in keys)
        if wait > 0:
            raise LoginThrottled(wait)
        row = self.conn.execute("SELECT name, role, password, disabled FROM users "
                                "WHERE name = ?", (name,)).fetchone()
        ok = verify_password(password, row[2] if row else dummy_hash())
        if not ok or row is None or row[3]:
            self._fail(keys[0], now, self.failures)
            self._fail(keys[1], now, self.failures * ADDRESS_FACTOR)
            raise LoginRefused("wrong user name or password")
        self.conn.execute("DELETE FROM login_failures WHERE key = ?", (keys[0],))
        if needs_rehash(row[2]):
            self.conn.execute("UPDATE users SET password = ? WHERE name = ?",
                              (hash_password(password), name))
        return self._open(User(row[0], row[1]), now)

    def _open(self, user: User, now: float) -> Session:
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        self.conn.execute("DELETE FROM sessions WHERE last_seen < ? OR created < ?",
                          (now - self.idle_s, now - self.max_age_s))
        self.conn.execute("INSERT INTO sessions VALUES (?, ?, ?, ?, ?)",
                          (_digest(token), user.name, csrf, now, now))
        return Session(token, user, csrf, now)

    def _locked_for(self, key: str, now: float) -> float:
        row = self.conn.execute("SELECT locked_until FROM login_failures WHERE key = ?",
                                (key,)).fetchone()
        return max(0.0, row[0] - now) if row else 0.0

    def _fail(self, key: str, now: float, allowed: int) -> None:
        row = self.conn.execute("SELECT failures, last FROM login_failures WHERE key = ?",
                                (key,)).fetchone()
        count = 1 if row is None or now - row[1] > WINDOW_S else row[0] + 1
        locked = 0.0
        if count >= allowed:
            locked = now + min(MAX_DELAY_S, self.delay_s * 2 ** min(count - allowed, 20))
        self.conn.execute("INSERT INTO login_failures VALUES (?, ?, ?, ?) ON CONFLICT(key) DO "
                          "UPDATE SET failures = excluded.failures, last = excluded.last, "
                          "locked_until = excluded.locked_until", (key, count, now, locked))

    # -- requests ----------------------------------------------------------------------------------
    def session(self, token: str | None, now: float | None = None) -> Session | None:
        """The live session of a cookie's token, or None (unknown, expired, user disabled)."""
        if not token or len(token) > 100:
            return None
        now = time.time() if now is None else now
        row = self.conn.execute(
            "SELECT s.csrf, s.created, s.last_seen, u.name, u.role, u.disabled FROM sessions s "
            "JOIN users u ON u.name = s.user WHERE s.token_hash = ?", (_digest(token),)
        ).fetchone()
        if row is None:
            return None
        csrf, created, last_seen, name, role, disabled = row
        if disabled or now - last_seen > self.idle_s or now - created > self.max_age_s:
            self.conn.execute("DELETE FROM sessions WHERE token_hash = ?", (_digest(token),))
            return None
        if now - last_seen > TOUCH_EVERY_S:
            self.conn.execute("UPDATE sessions SET last_seen = ? WHERE token_hash = ?",
                              (now, _digest(token)))
        return Session(token, User(name, role), csrf, created)

    def logout(self, token: str) -> None:
        self.conn.execute("DELETE FROM sessions WHERE token_hash = ?", (_digest(token),))
