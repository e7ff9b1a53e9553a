"""Self-metrics of the collector, served as Prometheus text on ``/metrics`` plus ``/healthz``.

One ``Metrics`` object per process: the sink counts what it accepts, writes, spools, replays,
quarantines and drops; the poller calls ``device_poll`` after each poll. ``MetricsServer`` is a
tiny asyncio HTTP/1.0 server (no dependency), bound to 127.0.0.1 unless told otherwise, because
the numbers name plants and devices.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import Callable
from dataclasses import dataclass, field

PREFIX = "pvrelief_"

COUNTERS = {
    "readings_accepted": "readings the sink accepted (put returned)",
    "readings_empty": "accepted readings with nothing InfluxDB can store (no line)",
    "readings_written": "points InfluxDB confirmed",
    "readings_recovered": "points found undelivered in the spool at start (an earlier run's)",
    "readings_spooled": "points that waited in the spool: InfluxDB did not take them at once",
    "readings_replayed": "points written after waiting (never more than readings_spooled)",
    "readings_quarantined": "points InfluxDB refused (400), kept in the quarantine file",
    "readings_dropped": "points lost: the spool was over its cap and dropped its oldest data",
    "sink_write_failures": "failed write attempts (network, timeout, 5xx, 429, auth, 404)",
    "sink_auth_failures": "write attempts refused with 401/403",
    "spool_corrupt_bytes": "damaged spool bytes skipped (a torn or corrupt record)",
    "spool_errors": "failed appends to the spool (disk full, I/O error)",
    "sink_internal_errors": "unexpected errors in sink tasks (quarantine, cursor, fsync), retried",
    # MQTT (README "MQTT"): the edge sink, then the central source
    "mqtt_published": "MQTT messages the broker acknowledged (edge sink)",
    "mqtt_dropped": "readings the MQTT spool dropped over its cap (oldest first)",
    "mqtt_connect_failures": "MQTT connections that failed or dropped (sink and source)",
    "mqtt_auth_failures": "MQTT connections refused for our user, password or certificate",
    "mqtt_messages": "MQTT messages received (central source)",
    "mqtt_readings": "readings made from MQTT messages",
    "mqtt_duplicates": "readings dropped as already seen (a QoS 1 redelivery or an edge resend)",
}
GAUGES = {
    "backlog_points": "points in the spool not yet written or quarantined",
    "readings_in_memory": "accepted readings still in the memory batch (at most linger_s old)",
    "spool_bytes": "bytes of the spool on disk",
    "spool_backlog_bytes": "bytes of the spool not yet delivered",
    "influx_up": "1 when the last write to InfluxDB succeeded",
    "mqtt_publish_up": "1 while the edge sink is connected to the broker",
    "mqtt_subscribe_up": "1 while the source is connected and subscribed",
    "mqtt_spool_backlog_bytes": "bytes of the MQTT spool not yet acknowledged by the broker",
}
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


@dataclass
class Histogram:
    buckets: tuple[float, ...] = LATENCY_BUCKETS
    counts: list[int] = field(default_factory=lambda: [0] * (len(LATENCY_BUCKETS) + 1))
    total: float = 0.0
    n: int = 0

    def observe(self, value: float) -> None:
        i = next((i for i, b in enumerate(self.buckets) if value <= b), len(self.buckets))
        self.counts[i] += 1
        self.total += value
        self.n += 1


@dataclass
class DeviceStats:
    ok: int = 0
    failed: int = 0
    latency_s: float = math.nan  # of the last poll
    last_good_s: float = math.nan  # timestamp of the last good reading, seconds since epoch
    failing_for: int = 0  # polls failed in a row (0: the last poll was good)


class Metrics:
    def __init__(self) -> None:
        self.counters = dict.fromkeys(COUNTERS, 0.0)
        self.gauges = dict.fromkeys(GAUGES, 0.0)
        self.write_latency = Histogram()
        self.devices: dict[str, DeviceStats] = {}
        self.problems: dict[str, str] = {}
        self.bad_input: dict[str, int] = {}  # MQTT messages refused, by reason
        # families whose samples others compute when scraped: (name, kind, help, samples)
        self.families: list[tuple[str, str, str, Callable[[], list[tuple[str, float]]]]] = []

    def add_family(self, name: str, kind: str, help_: str,
                   samples: Callable[[], list[tuple[str, float]]]) -> None:
        """A metric family rendered from ``samples()`` (labels text, value) at each scrape."""
        self.families.append((name, kind, help_, samples))

    def inc_bad_input(self, reason: str) -> None:
        self.bad_input[reason] = self.bad_input.get(reason, 0) + 1

    def inc(self, name: str, n: float = 1) -> None:
        self.counters[name] += n  # KeyError on a typo, on purpose

    def set_gauge(self, name: str, value: float) -> None:
        if name not in self.gauges:
            raise KeyError(name)
        self.gauges[name] = value

    def device_poll(self, device: str, ok: bool, latency_s: float, ts_ns: int | None) -> None:
        d = self.devices.setdefault(device, DeviceStats())
        if ok:
            d.ok += 1
            d.failing_for = 0
            if ts_ns is not None:
                d.last_good_s = ts_ns / 1e9
        else:
            d.failed += 1
            d.failing_for += 1
        d.latency_s = latency_s

    def devices_text(self) -> str:
        """The device-health view (``/devices``): one line per device, failing ones first.

        ``/healthz`` is about this process (InfluxDB writes, the spool); a device that does
        not answer is the field's problem, not the collector's, so it shows here instead.
        """
        rows = sorted(self.devices.items(), key=lambda kv: (kv[1].failing_for == 0, kv[0]))
        failing = sum(1 for _, d in rows if d.failing_for)
        lines = [f"devices: {len(rows)}, failing: {failing}"]
        for name, d in rows:
            state = f"failing ({d.failing_for} polls)" if d.failing_for else "ok"
            last = "never" if math.isnan(d.last_good_s) else f"{d.last_good_s:.0f}"
            lines.append(f"{name} {state} ok={d.ok} failed={d.failed} last_good={last}")
        return "\n".join(lines) + "\n"

    def set_problem(self, key: str, message: str | None) -> None:
        """Report (or clear, with None) a reason /healthz answers 503."""
        if message is None:
            self.problems.pop(key, None)
        else:
            self.problems[key] = message

    def render(self) -> str:
        out: list[str] = []
        for name, help_ in COUNTERS.items():
            _family(out, f"{name}_total", "counter", help_, [("", self.counters[name])])
        for name, help_ in GAUGES.items():
            _family(out, name, "gauge", help_, [("", self.gauges[name])])
        h, m = self.write_latency, f"{PREFIX}sink_write_latency_seconds"
        out += [f"# HELP {m} time of one successful POST to InfluxDB",
                f"# TYPE {m} histogram"]
        cumulative = 0
        for b, c in zip((*h.buckets, math.inf), h.counts, strict=True):
            cumulative += c
            out.append(f'{m}_bucket{{le="{_num(b)}"}} {cumulative}')
        out += [f"{m}_sum {_num(h.total)}", f"{m}_count {h.n}"]
        devs = sorted(self.devices.items())
        polls = [(f'device="{_esc(k)}",result="ok"', d.ok) for k, d in devs]
        polls += [(f'device="{_esc(k)}",result="error"', d.failed) for k, d in devs]
        _family(out, "device_polls_total", "counter", "polls per device and result", polls)
        _family(out, "device_poll_latency_seconds", "gauge", "latency of the last poll",
                [(f'device="{_esc(k)}"', d.latency_s) for k, d in devs])
        _family(out, "device_last_good_timestamp_seconds", "gauge",
                "time of the last good reading (unix seconds)",
                [(f'device="{_esc(k)}"', d.last_good_s) for k, d in devs if d.ok])
        _family(out, "devices_failing", "gauge", "devices whose last poll failed",
                [("", float(sum(1 for _, d in devs if d.failing_for)))])
        _family(out, "mqtt_bad_input_total", "counter",
                "MQTT messages (or values) refused as bad input, by reason",
                [(f'reason="{_esc(k)}"', v) for k, v in sorted(self.bad_input.items())])
        _family(out, "healthy", "gauge", "1 when /healthz answers 200",
                [("", 0.0 if self.problems else 1.0)])
        for name, kind, help_, samples in self.families:
            _family(out, name, kind, help_, samples())
        return "\n".join(out) + "\n"


def _family(out: list[str], name: str, kind: str, help_: str,
            samples: list[tuple[str, float]]) -> None:
    full = PREFIX + name
    out += [f"# HELP {full} {help_}", f"# TYPE {full} {kind}"]
    for labels, value in samples:
        out.append(f"{full}{{{labels}}} {_num(value)}" if labels else f"{full} {_num(value)}")


def _num(v: float) -> str:
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    return str(int(v)) if float(v).is_integer() else repr(float(v))


def _esc(s: str) -> str:
    return s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class MetricsServer:
    """``async with MetricsServer(metrics, port=9108):`` serves /metrics and /healthz."""

    def __init__(self, metrics: Metrics, host: str = "127.0.0.1", port: int = 9108) -> None:
        self.metrics = metrics
        self.host = host
        self.port = port
        self._server: asyncio.Server | None = None

    async def start(self) -> MetricsServer:
        self._server = await asyncio.start_server(self._handle, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]  # when asked for port 0
        return self

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> MetricsServer:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5.0)
            parts = head.split(b"\r\n", 1)[0].decode("latin-1").split()
            method, path = [*parts, "", ""][:2]
            path = path.split("?", 1)[0]
            if method not in ("GET", "HEAD"):
                status, ctype, body = "405 Method Not Allowed", "text/plain", "GET only\n"
            elif path == "/metrics":
                status, ctype = "200 OK", "text/plain; version=0.0.4; charset=utf-8"
                body = self.metrics.render()
            elif path == "/devices":
                status, ctype = "200 OK", "text/plain; charset=utf-8"
                body = self.metrics.devices_text()
            elif path == "/healthz":
                problems = self.metrics.problems
                status = "503 Service Unavailable" if problems else "200 OK"
                ctype = "text/plain; charset=utf-8"
                body = "".join(f"{k}: {v}\n" for k, v in sorted(problems.items())) or "ok\n"
            else:
                status, ctype, body = "404 Not Found", "text/plain", "not found\n"
            data = body.encode()
            writer.write(
                f"HTTP/1.0 {status}\r\nContent-Type: {ctype}\r\n"
                f"Content-Length: {len(data)}\r\nConnection: close\r\n\r\n".encode()
            )
            if method != "HEAD":
                writer.write(data)
            await writer.drain()
        except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError,
                ConnectionError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()
