"""Self-metrics: Prometheus text, /metrics and /healthz over real HTTP on 127.0.0.1."""

from __future__ import annotations

import httpx

from collector.metrics import Metrics, MetricsServer


def test_render_counters_devices_and_latency() -> None:
    m = Metrics()
    m.inc("readings_accepted", 5)
    m.set_gauge("spool_bytes", 1234)
    m.write_latency.observe(0.02)
    m.device_poll('inv"1', ok=True, latency_s=0.05, ts_ns=1_700_000_000_500_000_000)
    m.device_poll('inv"1', ok=False, latency_s=1.5, ts_ns=None)
    text = m.render()
    assert "pvrelief_readings_accepted_total 5\n" in text
    assert "pvrelief_readings_dropped_total 0\n" in text
    assert "pvrelief_spool_bytes 1234\n" in text
    assert 'pvrelief_sink_write_latency_seconds_bucket{le="0.025"} 1\n' in text
    assert 'pvrelief_sink_write_latency_seconds_bucket{le="+Inf"} 1\n' in text
    assert 'pvrelief_device_polls_total{device="inv\\"1",result="ok"} 1\n' in text
    assert 'pvrelief_device_polls_total{device="inv\\"1",result="error"} 1\n' in text
    assert 'pvrelief_device_poll_latency_seconds{device="inv\\"1"} 1.5\n' in text
    assert 'pvrelief_device_last_good_timestamp_seconds{device="inv\\"1"} 1700000000.5\n' in text


async def test_server_serves_metrics_and_health() -> None:
    m = Metrics()
    async with MetricsServer(m, port=0) as srv, httpx.AsyncClient() as client:
        assert srv.host == "127.0.0.1"
        base = f"http://127.0.0.1:{srv.port}"
        r = await client.get(f"{base}/metrics")
        assert r.status_code == 200 and "pvrelief_healthy 1" in r.text
        assert r.headers["content-type"].startswith("text/plain; version=0.0.4")
        assert (await client.get(f"{base}/healthz")).status_code == 200
        m.set_problem("influx", "connection refused")
        r = await client.get(f"{base}/healthz")
        assert r.status_code == 503 and "influx: connection refused" in r.text
        m.set_problem("influx", None)
        assert (await client.get(f"{base}/healthz")).status_code == 200
        assert (await client.get(f"{base}/nope")).status_code == 404


async def test_devices_view_lists_failing_devices_first_and_healthz_ignores_them() -> None:
    m = Metrics()
    m.device_poll("inv-2", True, 0.01, 1_600_000_000 * 10**9)
    m.device_poll("inv-1", False, 1.0, None)
    m.device_poll("inv-1", False, 1.0, None)
    async with MetricsServer(m, port=0) as srv, httpx.AsyncClient() as client:
        base = f"http://127.0.0.1:{srv.port}"
        r = await client.get(f"{base}/devices")
        lines = r.text.splitlines()
        assert r.status_code == 200 and lines[0] == "devices: 2, failing: 1"
        assert lines[1].startswith("inv-1 failing (2 polls)")
        assert lines[2] == "inv-2 ok ok=1 failed=0 last_good=1600000000"
        # a silent device is the field's problem: the process itself is healthy
        assert (await client.get(f"{base}/healthz")).status_code == 200
        assert "pvrelief_devices_failing 1" in (await client.get(f"{base}/metrics")).text
    m.device_poll("inv-1", True, 0.01, 1_600_000_060 * 10**9)
    assert m.devices_text().splitlines()[0] == "devices: 2, failing: 0"
