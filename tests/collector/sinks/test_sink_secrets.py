"""No secret in any log line (every logger, every level), /healthz, /metrics or error text while
InfluxDB refuses the sink's credentials."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from collector.metrics import Metrics, MetricsServer
from collector.reading import Reading
from collector.sinks.influx import InfluxSink
from config.influx import InfluxSettings
from localsite.servers import InfluxServer

RIGHT = "Right-5b2a-distinctive"
WRONG = "Wrong-77c1-distinctive"


async def test_refused_credentials_leave_no_secret_anywhere(
    tmp_path: Path, wait_until: Callable, caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    caplog.set_level(logging.DEBUG)  # httpx and httpcore log each request at INFO/DEBUG
    monkeypatch.setenv("PVRELIEF_TEST_INFLUX_PASSWORD", WRONG)
    server = InfluxServer(tmp_path / "influx", auth=("admin", RIGHT)).start()
    try:
        server.create_database("secured")
        settings = InfluxSettings(
            url=server.url, database="secured", username="admin",
            password={"env": "PVRELIEF_TEST_INFLUX_PASSWORD"}, spool_dir=tmp_path / "spool",
            linger_s=0.1, retry_initial_s=0.05, retry_max_s=0.2, close_timeout_s=0.3)
        metrics = Metrics()
        async with (InfluxSink(settings, metrics) as sink,
                    MetricsServer(metrics, port=0) as web,
                    httpx.AsyncClient(trust_env=False) as http):
            await sink.put([Reading("inverter", "p1", "inv-1", 10**18, {"p_ac_w": 1.0})])
            await wait_until(lambda: metrics.counters["sink_auth_failures"] >= 2, 15,
                             "refused twice")
            health = await http.get(f"http://127.0.0.1:{web.port}/healthz")
            scrape = await http.get(f"http://127.0.0.1:{web.port}/metrics")
        assert health.status_code == 503 and "401" in health.text
        outputs = {"log": caplog.text, "healthz": health.text, "metrics": scrape.text,
                   "problems": repr(metrics.problems), "settings": repr(settings) + str(settings)}
        for where, text in outputs.items():
            for secret in (RIGHT, WRONG):
                assert secret not in text, f"{where} shows a password"
        assert any("refused the credentials (401)" in r.getMessage() for r in caplog.records)
        assert any(r.name == "httpx" for r in caplog.records), "request lines are captured too"
    finally:
        server.stop()
