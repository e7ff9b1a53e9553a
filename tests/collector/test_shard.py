"""Sharding: n collectors, each started with i/n, poll every device exactly once between them,
and the devices behind one gateway always together."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from collector.reading import Reading
from collector.runner import Collector
from collector.sinks.base import CallbackSink
from collector.sources.shard import parse_shard, shard_of
from config.schema import Config
from localsite.servers import free_port
from simulator.fleet import Fleet
from tests.simulator.gateway_fleet import START, bounded, wait_until
from timebase.clock import Clock

N = 3
ROOT = Path(__file__).resolve().parents[2]


def fleet_config(shard: str | None = None, gateways: int = 9) -> Config:
    unique: set[int] = set()
    while len(unique) < gateways + 2:  # free now, not yet bound: free_port() may repeat
        unique.add(free_port())
    ports = iter(unique)
    gws = [{"id": f"gw{g}", "port": next(ports), "timeout_s": 1.0, "devices": [
        {"id": f"gw{g}-inv", "unit_id": 1, "repeat": 2, "profile": "huawei-sun2000",
         "poll_interval_s": 60}]} for g in range(gateways)]
    own_port = next(ports)
    devices: list[dict[str, Any]] = [  # two devices on one host:port of their own, and one more
        {"id": "solo-a", "unit_id": 1, "port": own_port, "profile": "sunspec-meter",
         "poll_interval_s": 60},
        {"id": "solo-b", "unit_id": 2, "port": own_port, "profile": "sunspec-meter",
         "poll_interval_s": 60},
        {"id": "solo-c", "unit_id": 1, "port": next(ports), "profile": "chint-dtsu666",
         "poll_interval_s": 60}]
    return Config.model_validate({
        "collector": {"timeout_s": 1.0, "shard": shard},
        "simulator": {"start": START, "speed": 60.0, "tick_s": 10, "modbus_server": "lean"},
        "counties": [{"id": "c", "plants": [{
            "id": "p1", "capacity_kwp_dc": 1200, "capacity_kw_ac": 1000, "latitude": 36.27,
            "longitude": 100.62, "gateways": gws, "devices": devices}]}],
    })


def test_shards_split_the_fleet_by_gateway() -> None:
    cfg = fleet_config(gateways=60)
    everyone = {d.id for _, d in cfg.devices()}
    polled = []
    for i in range(1, N + 1):
        shard = cfg.model_copy(deep=True)
        shard.collector.shard = f"{i}/{N}"
        polled.append({p.device.id for p in Collector(shard, []).pollers})
    assert all(polled), "a shard with no device: 60 gateways should reach all three"
    assert set().union(*polled) == everyone
    assert sum(len(p) for p in polled) == len(everyone)  # nobody twice
    for _, d in cfg.devices():  # a gateway's devices (or one host:port's) stay together
        owners = [i for i, p in enumerate(polled) if d.id in p]
        mates = [m.id for _, m in cfg.devices() if (m.host, m.port) == (d.host, d.port)]
        assert all(m in polled[owners[0]] for m in mates)
    # stable: the same answer in another process, whatever its hash seed (no salted hash())
    behind = [d for _, d in cfg.devices() if d.gateway]  # (the solo ones' ports are random)
    other = subprocess.run(
        [sys.executable, "-c", "import sys; from tests.collector.test_shard import *; "
         "print([shard_of(d, 3) for _, d in fleet_config(gateways=60).devices() if d.gateway])"],
        cwd=ROOT, env={**os.environ, "PYTHONHASHSEED": "12345"}, capture_output=True,
        text=True, timeout=120)
    assert other.stdout.strip() == str([shard_of(d, N) for d in behind]), other.stderr


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
