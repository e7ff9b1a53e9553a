"""Sharding: n collectors, each started with i/n, poll every device exactly once between them,
each plant whole (its gateways with it), with state of their own."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from collector.pipeline.counters import device_ratings
from collector.reading import Reading
from collector.runner import Collector
from collector.shard import parse_shard, shard_config, shard_of
from collector.sinks.base import CallbackSink
from config.profiles import load_registry
from config.schema import Config, Device
from localsite.servers import free_port
from simulator.fleet import Fleet
from tests.simulator.gateway_fleet import START, bounded, wait_until
from timebase.clock import Clock

N = 3
ROOT = Path(__file__).resolve().parents[2]


def fleet_config(shard: str | None = None, plants: int = 4, gateways: int = 2) -> Config:
    """``plants`` plants of ``gateways`` gateways (two inverters each), and three devices at
    addresses of their own in the first plant (two of them sharing one host:port)."""
    unique: set[int] = set()
    while len(unique) < plants * gateways + 2:  # free now, not yet bound: may repeat
        unique.add(free_port())
    ports = iter(unique)

    def plant(k: int) -> dict[str, Any]:
        gws = [{"id": f"p{k}-gw{g}", "port": next(ports), "timeout_s": 1.0, "devices": [
            {"id": f"p{k}-gw{g}-inv", "unit_id": 1, "repeat": 2, "profile": "huawei-sun2000",
             "poll_interval_s": 60}]} for g in range(gateways)]
        return {"id": f"p{k}", "capacity_kwp_dc": 1200, "capacity_kw_ac": 1000,
                "latitude": 36.27, "longitude": 100.62, "gateways": gws}

    first = plant(0)
    own_port = next(ports)
    first["devices"] = [  # two devices on one host:port of their own, and one more
        {"id": "solo-a", "unit_id": 1, "port": own_port, "profile": "sunspec-meter",
         "poll_interval_s": 60},
        {"id": "solo-b", "unit_id": 2, "port": own_port, "profile": "sunspec-meter",
         "poll_interval_s": 60},
        {"id": "solo-c", "unit_id": 1, "port": next(ports), "profile": "chint-dtsu666",
         "poll_interval_s": 60}]
    return Config.model_validate({
        "collector": {"timeout_s": 1.0, "shard": shard},
        "simulator": {"start": START, "speed": 60.0, "tick_s": 10, "modbus_server": "lean"},
        "counties": [{"id": "c", "plants": [first, *(plant(k) for k in range(1, plants))]}],
    })


def test_shards_split_the_fleet_by_plant() -> None:
    cfg = fleet_config(plants=30)
    everyone = {d.id for _, d in cfg.devices()}
    polled = []
    for i in range(1, N + 1):
        shard = cfg.model_copy(deep=True)
        shard.collector.shard = f"{i}/{N}"
        polled.append({p.device.id for p in Collector(shard, []).pollers})
    assert all(polled), "a shard with no device: 30 plants should reach all three"
    assert set().union(*polled) == everyone
    assert sum(len(p) for p in polled) == len(everyone)  # nobody twice
    for plant, d in cfg.devices():  # a plant (so each gateway, each host:port) stays together
        owners = [i for i, p in enumerate(polled) if d.id in p]
        assert all(m.id in polled[owners[0]] for m in plant.all_devices())
        assert owners == [shard_of(plant, N) - 1]
    # stable: the same answer in another process, whatever its hash seed (no salted hash())
    other = subprocess.run(
        [sys.executable, "-c", "import sys; from tests.collector.test_shard import *; "
         "print([shard_of(p, 3) for p in fleet_config(plants=30).plants()])"],
        cwd=ROOT, env={**os.environ, "PYTHONHASHSEED": "12345"}, capture_output=True,
        text=True, timeout=120)
    assert other.stdout.strip() == str([shard_of(p, N) for p in cfg.plants()]), other.stderr


def test_a_shard_keeps_its_plants_whole_with_state_of_its_own() -> None:
    cfg = fleet_config(plants=30)
    cfg.mqtt.subscriptions = Config.model_validate(
        {"mqtt": {"subscriptions": [{"topic": "pvrelief/+/+/+/reading",
                                     "mapping": "pvrelief"}]}}).mqtt.subscriptions
    ratings = device_ratings(cfg, load_registry())
    shards = [cfg.model_copy(deep=True) for _ in range(N)]
    for i, shard in enumerate(shards, 1):
        shard.collector.shard = f"{i}/{N}"
    parts = [shard_config(s) for s in shards]
    # every plant once, whole: its capacity, and its inverters' ratings, as in the whole fleet
    assert sorted(p.id for part in parts for p in part.plants()) == sorted(
        p.id for p in cfg.plants())
    for part in parts:
        assert device_ratings(part, load_registry()) == {
            d.id: ratings[d.id] for _, d in part.devices()}
    # the alarm stage's timers (communication loss) cover the shard's devices only
    stages = [Collector(s, []).alarms for s in shards]
    for stage, part in zip(stages, parts, strict=True):
        assert set(stage.fleet.devices) == {d.id for _, d in part.devices()}
    # a folder of its own for the spool and the alarm state, a client id of its own
    assert len({p.influxdb.spool_dir for p in parts}) == N
    assert len({p.state_path for p in parts}) == N
    assert parts[1].state_path == cfg.state_path / f"shard-2-of-{N}"
    assert len({p.mqtt.client_id for p in parts}) == N
    # only shard 1 subscribes to MQTT
    assert [bool(p.mqtt.subscriptions) for p in parts] == [True] + [False] * (N - 1)
    assert shard_config(cfg) is cfg  # unsharded: the config itself


def test_a_plant_fed_over_mqtt_belongs_to_shard_1() -> None:
    cfg = fleet_config(plants=30)
    mqtt_plant = next(p for p in cfg.plants() if shard_of(p, N) != 1)
    mqtt_plant.devices.append(Device.model_validate(
        {"id": "edge-inv", "profile": "huawei-sun2000", "protocol": "mqtt"}))
    mqtt_plant._resolve()
    assert shard_of(mqtt_plant, N) == 1


async def test_three_collectors_poll_every_device_exactly_once() -> None:
    base = fleet_config()
    got: list[set[str]] = [set() for _ in range(N)]
    collectors = []
    for i in range(N):
        cfg = base.model_copy(deep=True)
        cfg.collector.shard = f"{i + 1}/{N}"

        async def keep(readings: Sequence[Reading], seen: set[str] = got[i]) -> None:
            seen.update(r.device for r in readings)

        collectors.append(Collector(cfg, [CallbackSink(keep)],
                                    Clock.starting(cfg.simulator.start, cfg.simulator.speed)))
    everyone = {d.id for _, d in base.devices()}
    clock = Clock.starting(base.simulator.start, base.simulator.speed)
    async with Fleet(base, clock):
        for c in collectors:
            await c.start()
        try:
            await wait_until(lambda: set().union(*got) == everyone and all(
                p.state.polls >= 2 for c in collectors for p in c.pollers), 30,
                "every device polled twice")
        finally:
            for c in collectors:
                await bounded(c.stop(), 20, "collector.stop()")
    assert set().union(*got) == everyone
    for a in range(N):
        for b in range(a + 1, N):
            assert not got[a] & got[b], (a, b, got[a] & got[b])


@pytest.mark.parametrize("text", ["0/3", "4/3", "3", "a/b", "1/0"])
def test_a_bad_shard_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_shard(text)
    with pytest.raises(ValueError):
        fleet_config(shard=text)
