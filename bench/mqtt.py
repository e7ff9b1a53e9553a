"""MQTT benchmark: the central collector against a bare aiomqtt subscriber, the edge sink against a
bare aiomqtt publisher, side by side in the same run.

Against one local Mosquitto and one InfluxDB started here:

  centre   N pvrelief.reading/1 messages (20 inverters, 16 fields each) are queued by the broker
           for two persistent sessions at once, so both sides drain the very same stream:
             bare       an aiomqtt subscriber (QoS 1, auto-ack) counting messages: the floor
             collector  the real collector (MqttSource -> counter guard -> InfluxSink) from
                        connect until InfluxDB has confirmed every point: decode, dedupe, guard,
                        line protocol, spool, POST, and the acks held until the points are safe
           target: collector >= 0.8 x bare (``collector_vs_bare``)
  edge     N readings through the MQTT sink (JSON, spool, publish, every PUBACK) against a
           bare aiomqtt publisher sending the same pre-encoded payloads with the same in-flight
           window: how fast an edge empties a backlog after a 4G outage

Each side runs ROUNDS times, alternating which goes first; the best run counts (the machine is
shared). CPU-seconds per wall second of this process, Mosquitto and influxd are recorded for the
best runs, with the load average. Result: bench/results/mqtt.json.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import platform
import shutil
import socket
import tempfile
import time
from pathlib import Path
from typing import Any

import aiomqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from collector.metrics import Metrics
from collector.reading import Reading
from collector.runner import Collector
from collector.sinks.influx import InfluxSink
from collector.sinks.mqtt import MqttSink
from collector.sinks.mqtt_payload import reading_payload, reading_topic
from config.schema import Config
from localsite.servers import InfluxServer, MosquittoServer

RESULTS = Path(__file__).parent / "results" / "mqtt.json"
MESSAGES = int(os.environ.get("PVRELIEF_BENCH_MQTT_MESSAGES", "40000"))
ROUNDS = int(os.environ.get("PVRELIEF_BENCH_MQTT_ROUNDS", "2"))
DEVICES = 20
FIELDS = ("p_ac_w", "p_dc_w", "v_ac_l1_v", "v_ac_l2_v", "v_ac_l3_v", "i_ac_l1_a", "i_ac_l2_a",
          "i_ac_l3_a", "f_ac_hz", "v_dc_v", "i_dc_a", "pv1_v_v", "pv1_i_a", "t_internal_c",
          "t_heatsink_c", "e_total_kwh")
FILTER = "pvrelief/+/+/+/reading"
INFLIGHT = 100
log = logging.getLogger(__name__)


def make_readings(n: int, t0_ns: int) -> list[Reading]:
    out = []
    for i in range(n):
        dev, step = i % DEVICES, i // DEVICES
        fields = {f: float((i * 7 + k) % 1000) + 0.5 for k, f in enumerate(FIELDS)}
        fields["e_total_kwh"] = 10_000.0 + dev + step * 0.01
        out.append(Reading("inverter", "p1", f"p1-inv-{dev + 1:02d}", t0_ns + step * 10**9,
                           fields, village="v1", counters={"e_total_kwh": "lifetime"}))
    return out


def site(port: int, influx_url: str, db: str, work: Path) -> Config:
    """The central collector's config; ``db`` also names its session (fresh each round: a
    stopped collector's last, held-back messages come again to its next session)."""
    return Config.model_validate({
        "site": {"id": "bench"},
        "influxdb": {"url": influx_url, "database": db, "spool_dir": str(work / f"spool-{db}")},
        "mqtt": {"host": "127.0.0.1", "port": port, "client_id": db,
                 "subscriptions": [{"topic": FILTER, "mapping": "pvrelief"}],
                 "publish": {"spool_dir": str(work / f"edge-{db}"), "with_influxdb": True}},
        "counties": [{"id": "c1", "townships": [{"id": "t1", "villages": [{"id": "v1", "plants": [
            {"id": "p1", "capacity_kwp_dc": 3000, "capacity_kw_ac": 2500, "latitude": 36.27,
             "longitude": 100.62, "devices": [{"id": "p1-inv", "profile": "sunspec-inverter",
                                               "protocol": "mqtt", "repeat": DEVICES}]}]}]}]}],
    })


def _props() -> Properties:
    p = Properties(PacketTypes.CONNECT)
    p.SessionExpiryInterval = 3600
    return p


def _client(port: int, cid: str | None = None, persistent: bool = False) -> aiomqtt.Client:
    c = aiomqtt.Client("127.0.0.1", port, identifier=cid, protocol=aiomqtt.ProtocolVersion.V5,
                       clean_start=not persistent, properties=_props() if persistent else None,
                       max_inflight_messages=INFLIGHT,
                       socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)])
    c.pending_calls_threshold = 1 << 40
    return c


async def publish_all(port: int, messages: list[tuple[str, bytes]]) -> float:
    """The bare publisher: QoS 1, INFLIGHT unacknowledged at most (paho holds the rest)."""
    t0 = time.perf_counter()
    async with _client(port) as c:
        for i in range(0, len(messages), 500):
            await asyncio.gather(*(c.publish(t, p, qos=1) for t, p in messages[i:i + 500]))
    return time.perf_counter() - t0


async def make_session(port: int, cid: str) -> None:
    async with _client(port, cid, persistent=True) as c:
        await c.subscribe(FILTER, qos=1)


async def run_bare(port: int, n: int, cid: str) -> float:
    t0 = time.perf_counter()
    async with _client(port, cid, persistent=True) as c:
        await c.subscribe(FILTER, qos=1)
        count = 0
        async for _ in c.messages:
            count += 1
            if count == n:
                break
    return time.perf_counter() - t0


async def run_collector(cfg: Config, n: int) -> float:
    metrics = Metrics()
    cfg = cfg.model_copy(deep=True)
    cfg.mqtt.publish = None  # the centre writes to InfluxDB only
    collector = Collector(cfg, [InfluxSink(cfg.influxdb, metrics)], metrics=metrics)
    t0 = time.perf_counter()
    await collector.start()
    try:
        while metrics.counters["readings_written"] < n:
            await asyncio.sleep(0.01)
            if time.perf_counter() - t0 > 600:
                raise RuntimeError(f"collector stuck at {metrics.counters['readings_written']}")
        seconds = time.perf_counter() - t0
    finally:
        await collector.stop()
    if metrics.bad_input or metrics.counters["mqtt_duplicates"]:
        raise RuntimeError(f"unexpected: {metrics.bad_input}, "
                           f"{metrics.counters['mqtt_duplicates']} duplicates")
    return seconds


async def run_edge_sink(cfg: Config, readings: list[Reading]) -> float:
    sink = MqttSink(cfg.mqtt, cfg.site.id)
    await sink.start()
    t0 = time.perf_counter()
    for i in range(0, len(readings), 500):
        await sink.put(readings[i:i + 500])
    while not sink.caught_up:
        await asyncio.sleep(0.005)
    seconds = time.perf_counter() - t0
    await sink.close()
    return seconds


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def bench(broker: MosquittoServer, influx: InfluxServer, work: Path) -> dict[str, Any]:
    pids = {"bench": os.getpid(), "mosquitto": broker.pid, "influxd": influx.pid}
    runs: dict[str, list[float]] = {"bare": [], "collector": [], "edge_bare": [], "edge_sink": []}
    busy: dict[str, list[dict[str, float]]] = {k: [] for k in runs}
    for k in range(ROUNDS):
        db = f"centre{k}"
        influx.create_database(db)
        cfg = site(broker.port, influx.url, db, work)
        now = time.time_ns()
        readings = make_readings(MESSAGES, now - MESSAGES // DEVICES * 10**9 - 10**9)
        messages = [(reading_topic("pvrelief", "bench", r), reading_payload(r, "bench").encode())
                    for r in readings]
        for cid in (f"bare{k}", f"{db}-sub"):
            await make_session(broker.port, cid)
        await publish_all(broker.port, messages)  # queued for both sessions
        order = ["bare", "collector", "edge_bare", "edge_sink"]
        if k % 2:
            order = ["collector", "bare", "edge_sink", "edge_bare"]
        for mode in order:
            cpu0 = {name: cpu_seconds(pid) for name, pid in pids.items() if pid}
            if mode == "bare":
                seconds = await run_bare(broker.port, MESSAGES, f"bare{k}")
            elif mode == "collector":
                seconds = await run_collector(cfg, MESSAGES)
                stored = influx.query('SELECT count("p_ac_w") FROM "inverter"', db)
                if stored[0]["values"][0][1] != MESSAGES:
                    raise RuntimeError(f"InfluxDB holds {stored}, expected {MESSAGES}")
            elif mode == "edge_bare":
                seconds = await publish_all(broker.port, messages)
            else:
                seconds = await run_edge_sink(cfg, readings)
            runs[mode].append(MESSAGES / seconds)
            busy[mode].append({name: round((cpu_seconds(pid) - cpu0[name]) / seconds, 2)
                               for name, pid in pids.items() if pid})
            print(f"  {mode:10s} round {k}: {MESSAGES / seconds:8.0f} msg/s ({seconds:.2f} s; "
                  f"CPUs busy: {busy[mode][-1]})", flush=True)
        influx.query(f'DROP DATABASE "{db}"', method="POST")
    best = {mode: max(rates) for mode, rates in runs.items()}

    def busy_best(mode: str) -> dict[str, float]:
        return busy[mode][runs[mode].index(best[mode])]

    return {
        "messages": MESSAGES, "devices": DEVICES, "fields_per_reading": len(FIELDS),
        "payload_bytes": round(sum(len(p) for _, p in messages) / len(messages)),
        "rounds": ROUNDS,
        "collector_vs_bare": round(best["collector"] / best["bare"], 3),
        "centre": {
            "bare_subscriber_msgs_per_s": round(best["bare"]),
            "collector_to_influxdb_msgs_per_s": round(best["collector"]),
            "cpus_busy_in_best_run": {"bare": busy_best("bare"),
                                      "collector": busy_best("collector")},
        },
        "edge_sink_vs_bare": round(best["edge_sink"] / best["edge_bare"], 3),
        "edge": {
            "bare_publisher_msgs_per_s": round(best["edge_bare"]),
            "sink_msgs_per_s": round(best["edge_sink"]),
            "in_flight": INFLIGHT,
            "cpus_busy_in_best_run": {"bare": busy_best("edge_bare"),
                                      "sink": busy_best("edge_sink")},
        },
        "runs_msgs_per_s": {mode: [round(r) for r in rates] for mode, rates in runs.items()},
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "loadavg_after": [round(x, 2) for x in os.getloadavg()]},
        "notes": (
            "Best of the rounds. Centre: both sides drain the same N messages the broker queued "
            "for their persistent sessions; the bare subscriber only counts them (aiomqtt, QoS "
            "1, acks sent by paho on receipt); the collector is timed from connect until "
            "InfluxDB confirmed every point (its acks wait until the points are on disk). Edge: "
            "the sink is timed from the first put() until the broker acknowledged every "
            "message (JSON encoding, spool append, publish); the bare publisher sends the "
            "same pre-encoded payloads with the same in-flight window. cpus_busy_in_best_run: "
            "CPU-seconds per wall second (bench = this process, 1.0 = one core). The machine "
            "is shared with other work, so absolute rates vary between runs."),
    }


def main() -> None:
    logging.getLogger("httpx").setLevel(logging.WARNING)
    work = Path(tempfile.mkdtemp(prefix="pvrelief-bench-mqtt-"))
    try:
        with MosquittoServer(work / "mosquitto") as broker, InfluxServer(work / "influx") as db:
            result = asyncio.run(bench(broker, db, work))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(f"  collector_vs_bare = {result['collector_vs_bare']}, edge_sink_vs_bare = "
          f"{result['edge_sink_vs_bare']}  -> {RESULTS}", flush=True)


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main()
