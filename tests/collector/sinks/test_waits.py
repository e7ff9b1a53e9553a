"""Which records waited for InfluxDB (collector/sinks/waits.py): the sink's spooled and replayed
counts follow from it, so every way a record can meet an outage is pinned here."""

from __future__ import annotations

from collector.sinks.waits import Waits


def test_a_record_waits_if_it_was_undelivered_when_a_failure_began() -> None:
    w = Waits()
    w.started((1, 0))
    assert w.appended((1, 0), 200, down=False) == 0  # in a sender's hands
    assert w.appended((1, 500), 40, down=False) == 0  # queued behind it
    assert w.failure_began() == 240
    assert w.failure_began() == 0  # counted once
    assert w.appended((1, 700), 10, down=True) == 10  # appended during the outage
    assert [w.delivered(p) for p in ((1, 500), (1, 0), (1, 700))] == [True, True, True]
    assert len(w) == 0


def test_a_record_written_while_influxdb_took_writes_did_not_wait() -> None:
    w = Waits()
    w.started((1, 0))
    w.appended((1, 0), 5, down=False)
    assert w.delivered((1, 0)) is False
    w.appended((1, 90), 5, down=False)
    w.failure_began()
    assert w.delivered((1, 90)) is True
    w.appended((1, 180), 5, down=False)  # after the recovery: fresh again
    assert w.delivered((1, 180)) is False


def test_records_of_an_earlier_run_waited_through_the_restart() -> None:
    w = Waits()
    w.started((3, 400))
    assert w.delivered((2, 1000)) and w.delivered((3, 0))
    w.appended((3, 400), 7, down=False)
    assert not w.delivered((3, 400))


def test_records_the_spool_passed_are_forgotten() -> None:
    w = Waits()
    w.started((1, 0))
    for off in range(0, 1000, 100):
        w.appended((1, off), 1, down=off >= 500)
    w.forget_before((1, 300))  # dropped over the cap, or skipped as damaged
    assert len(w) == 7
    assert w.failure_began() == 2  # (1, 300) and (1, 400); the rest were counted on append
    w.forget_before((2, 0))
    assert len(w) == 0
    assert not w.delivered((1, 600))  # a dropped record a sender still held: not replayed
