"""401 from a real InfluxDB with auth on: a loud error, the data kept, delivered once fixed."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import pytest

from collector.metrics import Metrics
from collector.reading import Reading
from collector.sinks.influx import InfluxSink
from config.influx import InfluxSettings
from localsite.servers import InfluxServer

T0_MS = 1_767_225_600_000


def _settings(server: InfluxServer, tmp_path: Path, password: str) -> InfluxSettings:
    return InfluxSettings(
        url=server.url, database="secured", username="admin", password={"value": password},
        spool_dir=tmp_path / "spool", linger_s=0.1, batch_size=50, retry_initial_s=0.05,
        retry_max_s=0.3, timeout_s=2, spool_max_bytes=16 * 1024 * 1024,
        spool_segment_bytes=64 * 1024, close_timeout_s=0.5,
    )


async def test_wrong_credentials_are_loud_and_keep_the_data(
    tmp_path: Path, wait_until: Callable, read_points: Callable,
    caplog: pytest.LogCaptureFixture,
) -> None:
    server = InfluxServer(tmp_path / "influx", auth=("admin", "right-password")).start()
    try:
        server.create_database("secured")
        batch = [Reading("inverter", "p1", "inv-1", (T0_MS + i) * 1_000_000, {"p_ac_w": 1.0 * i})
                 for i in range(120)]
        metrics = Metrics()
        with caplog.at_level(logging.ERROR):
            async with InfluxSink(_settings(server, tmp_path, "wrong-password"), metrics) as sink:
                await sink.put(batch)
                await wait_until(lambda: metrics.counters["sink_auth_failures"] >= 1, 15,
                                 "an authentication failure")
                assert metrics.problems, "/healthz must report the refused credentials"
                assert not sink.caught_up
        assert any(r.levelno >= logging.ERROR and "401" in r.getMessage()
                   for r in caplog.records), "the refusal must be logged at ERROR"
        assert "right-password" not in caplog.text and "wrong-password" not in caplog.text
        assert read_points(server, "secured") == []

        # the operator fixes the password: the same spool is delivered, nothing lost
        metrics = Metrics()
        async with InfluxSink(_settings(server, tmp_path, "right-password"), metrics) as sink:
            await wait_until(lambda: sink.caught_up, 20, "the spool to drain")
        stored = read_points(server, "secured")
        assert sorted(stored) == sorted(("inv-1", r.ts_ns) for r in batch)
    finally:
        server.stop()
