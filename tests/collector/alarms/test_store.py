"""Alarm state in SQLite: what the collector stores, what the CLI acknowledges, and that
neither undoes the other."""

from __future__ import annotations

from pathlib import Path

import pytest

from collector.alarms.builtin import Builtins
from collector.alarms.errors import AckRefused
from collector.alarms.lifecycle import Lifecycle
from collector.alarms.model import Signal, State
from collector.alarms.store import AlarmStore
from statedb.errors import StateError
from tests.collector.alarms.helpers import CATALOG, NOON, S, config

CFG = config({"hold_s": 60})
COMM = Builtins(CFG.alarms, CATALOG).comm_loss


def _raise(lc: Lifecycle, store: AlarmStore, device: str = "inv-01", t: int = NOON) -> int:
    lc.signal(Signal("p1", device, COMM, True, t, "v1", 130.0, "silent"))
    out = lc.drain()
    store.persist(out, [["dingtalk"]] * len(out))
    return out[0].alarm.id


def test_open_alarms_come_back_with_their_state_and_next_id(tmp_path: Path) -> None:
    store, lc = AlarmStore(tmp_path), Lifecycle(CFG.alarms)
    a = _raise(lc, store)
    _raise(lc, store, "inv-02")
    lc.signal(Signal("p1", "inv-02", COMM, False, NOON + 10 * S))
    lc.tick(NOON + 100 * S)  # inv-02 cleared
    out = lc.drain()
    store.persist(out, [[]] * len(out))
    opened, next_id = AlarmStore(tmp_path).load_open()
    assert next_id == 3
    assert [(x.id, x.device, x.state) for x in opened] == [
        (a, "inv-01", State.RAISED), (2, "inv-02", State.CLEARED)]
    assert opened[0].definition == COMM and opened[0].village == "v1"
    assert opened[1].ended_ns == NOON + 10 * S
    assert opened[1].last_ts_ns == NOON + 10 * S  # later transitions are stamped after it


def test_an_acknowledgement_from_the_cli_is_kept_and_left_for_the_collector(
        tmp_path: Path) -> None:
    store, lc = AlarmStore(tmp_path), Lifecycle(CFG.alarms)
    a = _raise(lc, store)
    store.mark_published([t.db_id for t in store.history(a) if t.db_id])
    cli = AlarmStore(tmp_path, create=False)
    got = cli.acknowledge(a, "王工", "路上，预计 14:00 到", ts_ns=NOON + 60 * S)
    assert (got.state, got.acked_by, got.ack_note) == (State.ACKNOWLEDGED, "王工",
                                                       "路上，预计 14:00 到")
    (pending,) = store.unpublished("cli")
    assert (pending.state, pending.actor, pending.alarm.id) == (State.ACKNOWLEDGED, "王工", a)
    # the collector, unaware of it, stores a clear of the same alarm: the ack stays
    lc.signal(Signal("p1", "inv-01", COMM, False, NOON + 70 * S))
    lc.tick(NOON + 200 * S)
    out = lc.drain()
    store.persist(out, [[]] * len(out))
    row = store.get(a)
    assert (row.acked_by, row.state) == ("王工", State.CLEARED)


@pytest.mark.parametrize(("setup", "message"), [
    ("none", "no alarm 99"), ("twice", "already acknowledged by 王工"), ("closed", "closed")])
def test_an_acknowledgement_that_cannot_be_is_refused_with_a_reason(
        tmp_path: Path, setup: str, message: str) -> None:
    store, lc = AlarmStore(tmp_path), Lifecycle(CFG.alarms)
    a = _raise(lc, store)
    if setup == "none":
        a = 99
    elif setup == "twice":
        store.acknowledge(a, "王工", "")
    else:
        lc.signal(Signal("p1", "inv-01", COMM, False, NOON + S))
        lc.tick(NOON + 7200 * S)
        lc.tick(NOON + 14_400 * S)
        out = lc.drain()
        store.persist(out, [[]] * len(out))
    with pytest.raises(AckRefused, match=message):
        store.acknowledge(a, "李工", "")
    with pytest.raises(AckRefused, match="who"):
        store.acknowledge(a, "  ", "")


def test_the_outbox_keeps_unsent_notifications(tmp_path: Path) -> None:
    store, lc = AlarmStore(tmp_path), Lifecycle(CFG.alarms)
    _raise(lc, store)
    _raise(lc, store, "inv-02")
    pending = store.pending_outbox()
    assert [(o.channel, o.transition.alarm.device) for o in pending] == [
        ("dingtalk", "inv-01"), ("dingtalk", "inv-02")]
    store.outbox_done(sent=[pending[0].id], failed=[pending[1].id])
    (left,) = store.pending_outbox()
    assert left.attempts == 1 and left.transition.alarm.device == "inv-02"


def test_one_open_alarm_per_device_and_id_is_enforced_by_the_database(tmp_path: Path) -> None:
    store = AlarmStore(tmp_path)
    _raise(Lifecycle(CFG.alarms), store)
    other = Lifecycle(CFG.alarms, next_id=50)  # a second, unaware lifecycle
    with pytest.raises(StateError, match="UNIQUE"):
        _raise(other, store)
