"""The sink's counters reconcile at every moment (issue 9):

    accepted + recovered = empty + written + quarantined + dropped + backlog + in memory

and ``readings_replayed`` never exceeds ``readings_spooled``, through an outage (with a batch in
flight when InfluxDB goes away) and a restart that finds an earlier run's backlog.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from collector.metrics import Metrics
from collector.reading import Reading
from collector.sinks.influx import InfluxSink
from localsite.servers import InfluxServer
from tests.collector.sinks.test_influx_sink import T0_MS, readings, settings


def unaccounted(m: Metrics) -> float:
    c, g = m.counters, m.gauges
    left = c["readings_accepted"] + c["readings_recovered"]
    right = (c["readings_empty"] + c["readings_written"] + c["readings_quarantined"]
             + c["readings_dropped"] + g["backlog_points"] + g["readings_in_memory"])
    return left - right


def empty(n: int) -> list[Reading]:
    """Readings with nothing storable (every field None): accepted, counted as empty."""
    return [Reading("inverter", "p1", "inv-e", (T0_MS + i) * 1_000_000, {"p_ac_w": None})
            for i in range(n)]


# 0.1 s: the readings left in memory reach the spool while InfluxDB is down. 1.5 s: the outage
# is over before the linger would flush them, so only the failure's own flush makes them wait
# (CI once found them neither spooled nor replayed when the outage ended that early).
@pytest.mark.parametrize("linger_s", [0.1, 1.5], ids=["flushed-in-outage", "held-past-outage"])
async def test_counters_reconcile_through_an_outage_and_a_restart(
    own_influxdb: InfluxServer, tmp_path: Path, wait_until: Callable, linger_s: float
) -> None:
    server, db = own_influxdb, "reconcile"
    server.create_database(db)
    m1 = Metrics()
    sink = InfluxSink(settings(server, db, tmp_path, close_timeout_s=0.2, linger_s=linger_s), m1)
    await sink.start()
    await sink.put(readings(50) + empty(3))
    # encoded as put() accepts them: the empty ones are counted at once, not at the flush
    assert m1.counters["readings_empty"] == 3
    assert unaccounted(m1) == 0
    await wait_until(lambda: sink.caught_up, 20, "first batches delivered")
    # an outage that ends while this sink runs: the first batch after it goes down was put
    # while InfluxDB still looked up, so it is in flight when the failure is noticed
    server.stop()
    await sink.put(readings(60, start=50))
    await wait_until(lambda: m1.counters["sink_write_failures"] >= 2, 20, "failures")
    waiting = m1.gauges["backlog_points"] + m1.gauges["readings_in_memory"]
    assert unaccounted(m1) == 0 and waiting == 60 * 4
    server.start()
    await wait_until(lambda: sink.caught_up, 30, "the outage's backlog replayed")
    assert m1.counters["readings_replayed"] == 60 * 4 <= m1.counters["readings_spooled"]
    assert unaccounted(m1) == 0
    # a second outage, and the collector stops before it ends
    server.stop()
    await sink.put(readings(60, start=110))
    await wait_until(lambda: m1.counters["readings_spooled"] >= 2 * 60 * 4, 20, "spooled")
    await sink.close()  # InfluxDB still down: the backlog stays on disk
    assert unaccounted(m1) == 0
    backlog = m1.gauges["backlog_points"]
    assert backlog == 60 * 4

    server.start()
    m2 = Metrics()
    async with InfluxSink(settings(server, db, tmp_path), m2) as sink2:
        assert m2.counters["readings_recovered"] == backlog
        await sink2.put(readings(10, start=200))
        await wait_until(lambda: sink2.caught_up, 30, "the earlier run's backlog replayed")
        assert unaccounted(m2) == 0
    for m in (m1, m2):
        assert m.counters["readings_replayed"] <= m.counters["readings_spooled"], m.counters
    assert m2.counters["readings_replayed"] == backlog
    assert m2.gauges["backlog_points"] == 0
