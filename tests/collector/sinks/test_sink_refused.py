"""A 400 about the request (a setting), not its lines: loud, the data kept, nothing quarantined."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from collector.metrics import Metrics
from collector.reading import Reading
from collector.sinks.influx import InfluxSink
from config.influx import InfluxSettings
from influx.client import is_about_lines
from localsite.servers import InfluxServer

T0_MS = 1_767_225_600_000


def test_line_level_reasons_are_told_from_request_level_ones() -> None:
    # the texts a real InfluxDB 1.6 answers (see the test below for one of each kind)
    assert is_about_lines('partial write: field type conflict: input field "v" ... dropped=1')
    assert is_about_lines("unable to parse 'garbage line': invalid field format")
    assert is_about_lines("partial write: points beyond retention policy dropped=3")
    assert not is_about_lines("invalid consistency level")


async def test_a_request_level_400_keeps_the_data_and_quarantines_nothing(
    influxdb: InfluxServer, influx_db: str, tmp_path: Path, wait_until: Callable,
    read_points: Callable,
) -> None:
    settings = InfluxSettings(
        url=influxdb.url, database=influx_db, spool_dir=tmp_path / "spool", linger_s=0.1,
        retry_initial_s=0.05, retry_max_s=0.2, close_timeout_s=2,
    )
    metrics = Metrics()
    batch = [Reading("inverter", "p1", "inv-1", (T0_MS + i) * 1_000_000, {"p_ac_w": float(i)})
             for i in range(50)]
    async with InfluxSink(settings, metrics) as sink:
        # a request parameter InfluxDB refuses with 400 whatever the lines say
        sink._writer._params["consistency"] = "bad"
        await sink.put(batch)
        await wait_until(lambda: metrics.counters["sink_write_failures"] >= 2, 10,
                         "the refusal, retried")
        assert "consistency" in " ".join(metrics.problems.values())
        assert metrics.counters["readings_quarantined"] == 0
        assert not settings.quarantine_path.exists()
        assert read_points(influxdb, influx_db) == []
        del sink._writer._params["consistency"]  # the operator fixes the setting
        await wait_until(lambda: sink.caught_up, 10, "delivery after the fix")
    assert sorted(read_points(influxdb, influx_db)) == sorted(("inv-1", r.ts_ns) for r in batch)
    assert not metrics.problems
