"""Alarm state in SQLite: open alarms, every transition, the notification outbox.

Two kinds of writer share the database (WAL mode, see statedb/db.py): the collector (one per
state folder) and the CLI acknowledging an alarm. They write disjoint columns of ``alarms``:
the collector never writes the ``acked_*`` columns and the CLI writes nothing else, so neither
can undo the other's change. An acknowledgement made by the CLI is stored with an unpublished
transition; the collector picks it up (``unpublished``), applies it to its lifecycle and
publishes it to the sinks.

Every method is synchronous: the collector calls them from one thread of its own
(alarms/writer.py) so that the event loop never waits on the disk.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from collector.alarms.errors import AckRefused
from collector.alarms.model import Alarm, AlarmDef, State, Transition
from statedb.db import connect
from statedb.errors import StateError

_ALARM_COLS = ("id, plant, device, village, alarm, kind, severity, code, name, name_zh, "
               "action, action_zh, detail, value, raised_ns, last_raised_ns, raises, flapping, "
               "ended_ns, closed_ns, acked_ns, acked_by, ack_note")
_COLLECTOR_COLS = [c.strip() for c in _ALARM_COLS.split(",")
                   if c.strip() not in ("id", "acked_ns", "acked_by", "ack_note")]


def state_of(row: sqlite3.Row) -> State:
    """The state follows from the timestamps, so two writers can never disagree about it."""
    if row["closed_ns"] is not None:
        return State.CLOSED
    if row["ended_ns"] is not None:
        return State.CLEARED
    if row["acked_ns"] is not None:
        return State.ACKNOWLEDGED
    return State.RAISED


def alarm_from_row(row: sqlite3.Row) -> Alarm:
    d = AlarmDef(row["alarm"], row["kind"], row["severity"], row["name"], row["name_zh"],
                 row["action"], row["action_zh"], row["code"])
    return Alarm(row["id"], row["plant"], row["device"], row["village"], d, state_of(row),
                 row["raised_ns"], row["last_raised_ns"], row["value"], row["detail"],
                 row["raises"], bool(row["flapping"]), row["ended_ns"], row["acked_ns"],
                 row["acked_by"], row["ack_note"], row["closed_ns"])


def _alarm_values(a: Alarm) -> dict[str, object]:
    d = a.definition
    return {"id": a.id, "plant": a.plant, "device": a.device, "village": a.village,
            "alarm": d.id, "kind": d.kind, "severity": d.severity, "code": d.code,
            "name": d.name, "name_zh": d.name_zh, "action": d.action, "action_zh": d.action_zh,
            "detail": a.detail, "value": a.value, "raised_ns": a.raised_ns,
            "last_raised_ns": a.last_raised_ns, "raises": a.raises, "flapping": int(a.flapping),
            "ended_ns": a.ended_ns if a.state in (State.CLEARED, State.CLOSED) else None,
            "closed_ns": a.closed_ns}


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A notification waiting in the outbox: its channel and the transition it tells of."""

    id: int
    channel: str
    transition: Transition
    attempts: int


class AlarmStore:
    def __init__(self, state_dir: Path, *, create: bool = True) -> None:
        self.path = Path(state_dir)
        self.conn = connect(self.path, create=create)

    def close(self) -> None:
        self.conn.close()

    # -- the collector --------------------------------------------------------------------
    def load_open(self) -> tuple[list[Alarm], int]:
        """Every alarm not closed, and the next free id."""
        rows = self.conn.execute(f"SELECT {_ALARM_COLS} FROM alarms WHERE closed_ns IS NULL "
                                 "ORDER BY id").fetchall()
        (top,) = self.conn.execute("SELECT coalesce(max(id), 0) FROM alarms").fetchone()
        alarms = [alarm_from_row(r) for r in rows]
        for a in alarms:  # stamp after the last stored transition of each
            (last,) = self.conn.execute("SELECT coalesce(max(ts_ns), 0) FROM transitions "
                                        "WHERE alarm_id = ?", (a.id,)).fetchone()
            a.last_ts_ns = last
        return alarms, int(top) + 1

    def persist(self, transitions: Sequence[Transition], routes: Sequence[Sequence[str]]
                ) -> list[tuple[int, list[tuple[int, str]]]]:
        """Store new transitions (and each alarm's latest snapshot) with their outbox rows.

        ``routes[i]`` names the channels transition i goes to. Returns, per transition, its
        id (an already stored one keeps its own) and its outbox rows (id, channel). One
        transaction: all or nothing.
        """
        latest = {t.alarm.id: t.alarm for t in transitions}
        cols = ", ".join(_COLLECTOR_COLS)
        marks = ", ".join(f":{c}" for c in _COLLECTOR_COLS)
        updates = ", ".join(f"{c} = excluded.{c}" for c in _COLLECTOR_COLS)
        out: list[tuple[int, list[tuple[int, str]]]] = []
        with self._transaction():
            for a in latest.values():
                self.conn.execute(
                    f"INSERT INTO alarms (id, {cols}) VALUES (:id, {marks}) "
                    f"ON CONFLICT(id) DO UPDATE SET {updates}", _alarm_values(a))
            for t, channels in zip(transitions, routes, strict=True):
                tid = t.db_id
                if tid is None:
                    cur = self.conn.execute(
                        "INSERT INTO transitions (alarm_id, ts_ns, state, actor, note, value, "
                        "detail, flapping, origin, published) VALUES (?,?,?,?,?,?,?,?,?,0)",
                        (t.alarm.id, t.ts_ns, t.state.value, t.actor, t.note, t.alarm.value,
                         t.alarm.detail, int(t.alarm.flapping), t.origin))
                    tid = int(cur.lastrowid or 0)
                    if t.state is State.ACKNOWLEDGED:  # taken in-process, not via the CLI
                        self.conn.execute(
                            "UPDATE alarms SET acked_ns = ?, acked_by = ?, ack_note = ? "
                            "WHERE id = ? AND acked_ns IS NULL",
                            (t.ts_ns, t.actor, t.note, t.alarm.id))
                rows = []
                for ch in channels:
                    cur = self.conn.execute("INSERT INTO outbox (channel, transition_id) "
                                            "VALUES (?, ?)", (ch, tid))
                    rows.append((int(cur.lastrowid or 0), ch))
                out.append((tid, rows))
        return out

    def mark_published(self, ids: Iterable[int]) -> None:
        with self._transaction():
            self.conn.executemany("UPDATE transitions SET published = 1 WHERE id = ?",
                                  [(i,) for i in ids])

    def unpublished(self, origin: str | None = None) -> list[Transition]:
        """Transitions not yet handed to the sinks: acknowledgements from the CLI
        (``origin="cli"``), and those a stopped collector stored but did not deliver."""
        rows = self.conn.execute(
            f"SELECT t.id AS tid, t.ts_ns AS t_ts, t.state AS t_state, t.actor, t.note, "
            f"t.origin, t.value AS t_value, t.detail AS t_detail, {_prefixed('a')} "
            "FROM transitions t JOIN alarms a ON a.id = t.alarm_id "
            "WHERE t.published = 0 AND (? IS NULL OR t.origin = ?) ORDER BY t.id",
            (origin, origin)).fetchall()
        return [_transition(r) for r in rows]

    def pending_outbox(self) -> list[Outgoing]:
        rows = self.conn.execute(
            f"SELECT o.id AS oid, o.channel, o.attempts, t.id AS tid, t.ts_ns AS t_ts, "
            f"t.state AS t_state, t.actor, t.note, t.origin, t.value AS t_value, "
            f"t.detail AS t_detail, {_prefixed('a')} FROM outbox o "
            "JOIN transitions t ON t.id = o.transition_id JOIN alarms a ON a.id = t.alarm_id "
            "WHERE o.sent_at IS NULL ORDER BY o.id").fetchall()
        return [Outgoing(r["oid"], r["channel"], _transition(r), r["attempts"]) for r in rows]

    def outbox_done(self, sent: Iterable[int], failed: Iterable[int] = (),
                    dropped: Iterable[int] = ()) -> None:
        """Sent ones are marked sent; failed ones count an attempt; dropped ones are deleted."""
        now = time.time()
        with self._transaction():
            self.conn.executemany("UPDATE outbox SET sent_at = ?, attempts = attempts + 1 "
                                  "WHERE id = ?", [(now, i) for i in sent])
            self.conn.executemany("UPDATE outbox SET attempts = attempts + 1 WHERE id = ?",
                                  [(i,) for i in failed])
            self.conn.executemany("DELETE FROM outbox WHERE id = ?", [(i,) for i in dropped])

    # -- technicians (CLI, web) -----------------------------------------------------------
    def acknowledge(self, alarm_id: int, by: str, note: str, ts_ns: int | None = None) -> Alarm:
        """Record who took the alarm; the running collector publishes it."""
        if not by.strip():
            raise AckRefused("say who acknowledges (--by NAME)")
        ts = ts_ns if ts_ns is not None else time.time_ns()
        with self._transaction():
            row = self.conn.execute(f"SELECT {_ALARM_COLS} FROM alarms WHERE id = ?",
                                    (alarm_id,)).fetchone()
            if row is None:
                raise AckRefused(f"no alarm {alarm_id}")
            if row["closed_ns"] is not None:
                raise AckRefused(f"alarm {alarm_id} is closed")
            if row["acked_ns"] is not None:
                raise AckRefused(f"alarm {alarm_id} was already acknowledged by "
                                 f"{row['acked_by']}")
            self.conn.execute("UPDATE alarms SET acked_ns = ?, acked_by = ?, ack_note = ? "
                              "WHERE id = ?", (ts, by, note, alarm_id))
            self.conn.execute(
                "INSERT INTO transitions (alarm_id, ts_ns, state, actor, note, value, detail, "
                "flapping, origin, published) VALUES (?, ?, 'acknowledged', ?, ?, ?, ?, ?, "
                "'cli', 0)", (alarm_id, ts, by, note, row["value"], row["detail"],
                              row["flapping"]))
        return self.get(alarm_id)

    def get(self, alarm_id: int) -> Alarm:
        row = self.conn.execute(f"SELECT {_ALARM_COLS} FROM alarms WHERE id = ?",
                                (alarm_id,)).fetchone()
        if row is None:
            raise AckRefused(f"no alarm {alarm_id}")
        return alarm_from_row(row)

    def history(self, alarm_id: int) -> list[Transition]:
        rows = self.conn.execute(
            f"SELECT t.id AS tid, t.ts_ns AS t_ts, t.state AS t_state, t.actor, t.note, "
            f"t.origin, t.value AS t_value, t.detail AS t_detail, {_prefixed('a')} "
            "FROM transitions t JOIN alarms a ON a.id = t.alarm_id WHERE t.alarm_id = ? "
            "ORDER BY t.ts_ns, t.id", (alarm_id,)).fetchall()
        return [_transition(r) for r in rows]

    def query(self, *, plant: str | None = None, severity: str | None = None,
              active: bool = False, raised_from_ns: int | None = None,
              raised_to_ns: int | None = None, limit: int | None = None) -> list[Alarm]:
        """Alarms, newest first. ``active``: the condition is on (raised or acknowledged)."""
        where, args = ["1 = 1"], []
        if plant:
            where.append("plant = ?")
            args.append(plant)
        if severity:
            where.append("severity = ?")
            args.append(severity)
        if active:
            where.append("closed_ns IS NULL AND ended_ns IS NULL")
        if raised_from_ns is not None:
            where.append("raised_ns >= ?")
            args.append(raised_from_ns)
        if raised_to_ns is not None:
            where.append("raised_ns < ?")
            args.append(raised_to_ns)
        sql = (f"SELECT {_ALARM_COLS} FROM alarms WHERE {' AND '.join(where)} "
               "ORDER BY raised_ns DESC, id DESC")
        if limit:
            sql += f" LIMIT {int(limit)}"
        return [alarm_from_row(r) for r in self.conn.execute(sql, args).fetchall()]

    def transitions_for(self, alarm_ids: Sequence[int]) -> dict[int, list[Transition]]:
        """Each alarm's transitions in time order (for the KPIs)."""
        out: dict[int, list[Transition]] = {i: [] for i in alarm_ids}
        ids = list(alarm_ids)
        for k in range(0, len(ids), 500):  # SQLite's host parameter limit
            chunk = ids[k:k + 500]
            rows = self.conn.execute(
                f"SELECT t.id AS tid, t.ts_ns AS t_ts, t.state AS t_state, t.actor, t.note, "
                f"t.origin, t.value AS t_value, t.detail AS t_detail, {_prefixed('a')} "
                "FROM transitions t JOIN alarms a ON a.id = t.alarm_id WHERE t.alarm_id IN "
                f"({','.join('?' * len(chunk))}) ORDER BY t.ts_ns, t.id", chunk).fetchall()
            for r in rows:
                out[r["id"]].append(_transition(r))
        return out

    # -- inside ---------------------------------------------------------------------------
    def _transaction(self) -> _Tx:
        return _Tx(self.conn)


class _Tx:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def __enter__(self) -> None:
        try:
            self.conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as e:
            raise StateError(f"state database busy or unusable: {e}") from e

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            try:
                self.conn.execute("COMMIT")
                return
            except sqlite3.Error as e:
                self.conn.execute("ROLLBACK")
                raise StateError(f"state database: commit failed: {e}") from e
        self.conn.execute("ROLLBACK")
        if isinstance(exc, sqlite3.Error):
            raise StateError(f"state database: {exc}") from exc


def _prefixed(alias: str) -> str:
    return ", ".join(f"{alias}.{c.strip()} AS {c.strip()}" for c in _ALARM_COLS.split(","))


def _transition(r: sqlite3.Row) -> Transition:
    a = alarm_from_row(r)
    a.value, a.detail = r["t_value"], r["t_detail"]
    return Transition(a, State(r["t_state"]), r["t_ts"], r["actor"], r["note"], r["origin"],
                      True, r["tid"])
