"""The lifecycle: one open alarm per (device, alarm id), hold, flapping, closing, acks."""

from __future__ import annotations

from collector.alarms.builtin import Builtins
from collector.alarms.lifecycle import Lifecycle
from collector.alarms.model import Signal, State
from tests.collector.alarms.helpers import CATALOG, NOON, S, config, states

CFG = config({"hold_s": 300, "close_after_s": 3600, "flap_count": 3, "flap_window_s": 3600})
COMM = Builtins(CFG.alarms, CATALOG).comm_loss


def on(ts: int, device: str = "inv-01") -> Signal:
    return Signal("p1", device, COMM, True, ts)


def off(ts: int, device: str = "inv-01") -> Signal:
    return Signal("p1", device, COMM, False, ts)


def test_one_open_alarm_per_device_and_id() -> None:
    lc = Lifecycle(CFG.alarms)
    for i in range(5):
        lc.signal(on(NOON + i * S))
    lc.signal(on(NOON, "inv-02"))
    out = lc.drain()
    assert states(out) == [("inv-01", "comm-loss", "raised"), ("inv-02", "comm-loss", "raised")]
    assert [t.alarm.id for t in out] == [1, 2]


def test_clears_only_after_the_condition_stayed_away_for_the_hold() -> None:
    lc = Lifecycle(CFG.alarms)
    lc.signal(on(NOON))
    lc.signal(off(NOON + 60 * S))
    lc.tick(NOON + 300 * S)  # 240 s away: held
    lc.signal(on(NOON + 310 * S))  # back within the hold: the same episode, nothing new
    lc.signal(off(NOON + 400 * S))
    lc.tick(NOON + 699 * S)
    assert states(lc.drain()) == [("inv-01", "comm-loss", "raised")]
    lc.tick(NOON + 700 * S)
    (cleared,) = lc.drain()
    assert cleared.state is State.CLEARED
    assert cleared.ts_ns == NOON + 400 * S  # stamped when the condition ended, not at the tick


def test_a_cleared_alarm_that_comes_back_is_raised_again_then_flaps() -> None:
    lc = Lifecycle(CFG.alarms)  # flap_count 3 within an hour
    t = NOON
    lc.signal(on(t))
    for _ in range(2):
        lc.signal(off(t + 10 * S))
        lc.tick(t + 400 * S)
        t += 500 * S
        lc.signal(on(t))
    out = lc.drain()
    assert [x.state.value for x in out] == ["raised", "cleared", "raised", "cleared", "raised"]
    assert {x.alarm.id for x in out} == {1}  # never closed: the same alarm each time
    raises = [x for x in out if x.state is State.RAISED]
    assert [x.alarm.raises for x in raises] == [1, 2, 3]
    assert [x.alarm.flapping for x in raises] == [False, False, True]
    assert all(x.notify for x in raises)  # the raise that makes it flapping still tells
    # flapping: a clear needs the condition away for the whole flap window, not hold_s
    lc.signal(off(t + 10 * S))
    lc.tick(t + 1000 * S)
    lc.signal(on(t + 1100 * S))  # back: still the same active alarm, no new raise
    lc.signal(off(t + 1200 * S))
    lc.tick(t + 4799 * S)
    assert lc.drain() == []
    lc.tick(t + 4800 * S)
    assert [x.state for x in lc.drain()] == [State.CLEARED]
    lc.signal(on(t + 4900 * S))  # raised again while flapping: recorded, not notified
    (again,) = lc.drain()
    assert again.state is State.RAISED and not again.notify and again.alarm.raises == 4


def test_closed_after_close_after_s_and_then_a_new_alarm() -> None:
    lc = Lifecycle(CFG.alarms)
    lc.signal(on(NOON))
    lc.signal(off(NOON + 60 * S))
    lc.tick(NOON + 360 * S)
    lc.tick(NOON + 3659 * S)
    assert [x.state for x in lc.drain()] == [State.RAISED, State.CLEARED]
    lc.tick(NOON + 3660 * S)
    assert [x.state for x in lc.drain()] == [State.CLOSED]
    assert not lc.open
    lc.signal(on(NOON + 4000 * S))
    (again,) = lc.drain()
    assert again.state is State.RAISED and again.alarm.id == 2


def test_acknowledged_then_cleared_closes_at_once() -> None:
    lc = Lifecycle(CFG.alarms)
    lc.signal(on(NOON))
    assert lc.acknowledge(1, NOON + 30 * S, "王工", "on my way")
    assert not lc.acknowledge(1, NOON + 40 * S, "李工", None)  # taken already
    lc.signal(off(NOON + 60 * S))
    lc.tick(NOON + 360 * S)
    out = lc.drain()
    assert [x.state for x in out] == [State.RAISED, State.ACKNOWLEDGED, State.CLEARED,
                                      State.CLOSED]
    ack = out[1]
    assert (ack.actor, ack.note, ack.alarm.acked_by) == ("王工", "on my way", "王工")
    assert out[3].ts_ns > out[2].ts_ns  # never one InfluxDB point for two transitions


def test_acknowledging_a_cleared_alarm_closes_it() -> None:
    lc = Lifecycle(CFG.alarms)
    lc.signal(on(NOON))
    lc.signal(off(NOON + 60 * S))
    lc.tick(NOON + 400 * S)
    lc.acknowledge(1, NOON + 500 * S, "王工", None)
    assert [x.state for x in lc.drain()] == [State.RAISED, State.CLEARED, State.ACKNOWLEDGED,
                                            State.CLOSED]
    assert not lc.acknowledge(1, NOON + 600 * S, "王工", None)  # closed


def test_transitions_of_one_alarm_are_spaced_by_the_sink_precision() -> None:
    lc = Lifecycle(CFG.alarms, unit_ns=1_000_000)  # ms
    lc.signal(on(NOON))
    lc.acknowledge(1, NOON, "王工", None)  # the same instant
    out = lc.drain()
    assert out[1].ts_ns - out[0].ts_ns == 1_000_000


def test_needs_says_when_a_signal_would_change_nothing() -> None:
    lc = Lifecycle(CFG.alarms)
    assert lc.needs("inv-01", "comm-loss", True) and not lc.needs("inv-01", "comm-loss", False)
    lc.signal(on(NOON))
    assert not lc.needs("inv-01", "comm-loss", True) and lc.needs("inv-01", "comm-loss", False)
    lc.signal(off(NOON + S))
    assert lc.needs("inv-01", "comm-loss", True)  # would call the pending clear off
    assert not lc.needs("inv-01", "comm-loss", False)



def test_an_off_older_than_the_raise_ends_nothing() -> None:
    """A reading that came out of order (an MQTT redelivery, an edge's backlog) says nothing
    of the condition after the raise: a clear never precedes its raise."""
    lc = Lifecycle(CFG.alarms)
    lc.signal(on(NOON))
    lc.signal(off(NOON - 120 * S))  # taken two minutes before the raise, arriving after it
    lc.tick(NOON + 3600 * S)
    assert states(lc.drain()) == [("inv-01", "comm-loss", "raised")]
    assert lc.open[("inv-01", "comm-loss")].ended_ns is None
    lc.signal(off(NOON + 60 * S))  # the next one, taken after the raise, does end it
    lc.tick(NOON + 3600 * S)
    (cleared,) = lc.drain()
    assert cleared.state is State.CLEARED and cleared.alarm.ended_ns == NOON + 60 * S
