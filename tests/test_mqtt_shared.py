"""Three central collectors in one shared-subscription group split one stream; one is killed.

Each collector is a `pvrelief collect` process writing to a database of its own, so the test
can tell who wrote what: every published reading is stored by exactly one of them, and after
one is killed with SIGKILL mid-stream and started again (as systemd would), nothing is missing.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import yaml

from config.schema import Config
from localsite.servers import InfluxServer, MosquittoServer, free_port
from simulator.fleet import Fleet
from simulator.mqtt_publisher import SimMqtt
from tests.mqtt_helpers import pushed_plant, wait_until
from tests.test_mqtt_broker_restart import MS, stored_keys
from timebase.clock import Clock

START = "2020-06-21T11:00:00+08:00"
SPEED = 600


def site(mosquitto: MosquittoServer, influx: InfluxServer, db: str, spool: Path,
         client_id: str) -> dict[str, Any]:
    return {
        "site": {"id": "s1"},
        "state_dir": str(spool.parent / f"state-{client_id}"),  # one collector per folder
        "influxdb": {"url": influx.url, "database": db, "linger_s": 0.2,
                     "spool_dir": str(spool)},
        "mqtt": {"host": "127.0.0.1", "port": mosquitto.port, "client_id": client_id,
                 "share_group": "centre", "reconnect_initial_s": 0.05, "reconnect_max_s": 0.3,
                 "timeout_s": 2, "keepalive_s": 5,
                 "subscriptions": [{"topic": "pvrelief/+/+/+/reading", "mapping": "pvrelief"}]},
        "simulator": {"start": START, "speed": SPEED, "seed": 5, "tick_s": 10,
                      "mqtt": {"plants": [{"plant": "p1", "interval_s": 10}]}},
        "counties": [{"id": "c1", "townships": [{"id": "t1", "villages": [
            pushed_plant("p1", "v1", inverters=5)]}]}],
    }


def metric(port: int, name: str) -> float:
    try:
        text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=1).text
    except httpx.HTTPError:
        return -1.0
    line = next((x for x in text.splitlines() if x.startswith(f"pvrelief_{name} ")), None)
    return float(line.split()[1]) if line else -1.0


class Member:
    def __init__(self, tmp: Path, n: int, cfg: dict[str, Any], clock_file: Path) -> None:
        self.config = tmp / f"centre-{n}.yaml"
        self.config.write_text(yaml.safe_dump(cfg, sort_keys=False))
        self.log = tmp / f"centre-{n}.log"
        self.clock_file = clock_file
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "pvrelief", "collect", "-c", str(self.config),
                 "--sim-clock", str(self.clock_file), "--metrics-port", str(self.port)],
                env={**os.environ, "PYTHONUNBUFFERED": "1"}, stdout=out,
                stderr=subprocess.STDOUT)

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(30)

    @property
    def subscribed(self) -> bool:
        return metric(self.port, "mqtt_subscribe_up") == 1.0

    def readings(self) -> float:
        return metric(self.port, "mqtt_readings_total")


async def test_three_collectors_share_the_stream_and_one_killed_loses_nothing(
        mosquitto: MosquittoServer, influxdb: InfluxServer, tmp_path: Path) -> None:
    dbs = [f"shared{n}_{os.getpid()}" for n in range(3)]
    for db in dbs:
        influxdb.create_database(db)
    clock = Clock.starting(Config.model_validate(
        site(mosquitto, influxdb, "x", tmp_path, "x")).simulator.start, SPEED)
    clock_file = tmp_path / "clock.json"
    clock.save(clock_file)
    members = [Member(tmp_path, n, site(mosquitto, influxdb, dbs[n], tmp_path / f"spool{n}",
                                        f"centre-{n}"), clock_file) for n in range(3)]
    cfg = Config.model_validate(site(mosquitto, influxdb, "unused", tmp_path, "sim"))
    fleet = Fleet(cfg, clock)
    sim = SimMqtt(fleet, cfg, clock)
    try:
        for m in members:
            m.start()
        await wait_until(lambda: all(m.subscribed for m in members), 60, "three subscribed")
        async with fleet:
            await sim.start()
            victim = members[1]
            await wait_until(lambda: victim.readings() >= 50, 30, "the victim busy")
            victim.stop(signal.SIGKILL)  # mid-stream: no goodbye, no flush
            await asyncio.sleep(1.0)  # the broker queues its share for its session meanwhile
            victim.start()
            await wait_until(lambda: victim.subscribed, 60, "the victim back")
            await asyncio.sleep(1.0)
            await sim.stop()  # everything produced has been acknowledged by the broker
        produced = {(d, ts // MS * MS) for d, sent in sim.published.items() for ts, _ in sent}

        def union() -> set[tuple[str, int]]:
            return set().union(*(set(stored_keys(influxdb, db)) for db in dbs))

        await wait_until(lambda: union() >= produced, 30, "everything stored")
    finally:
        for m in members:
            m.stop()
    per_member = [stored_keys(influxdb, db) for db in dbs]
    sets = [set(k) for k in per_member]
    assert all(len(k) == len(s) for k, s in zip(per_member, sets, strict=True))
    assert all(sets), "every member got a share"
    assert not (sets[0] & sets[1]) and not (sets[0] & sets[2]) and not (sets[1] & sets[2]), \
        "a reading was written by two members"
    assert set().union(*sets) == produced
