"""Sharding: which plants this collector carries when several processes share one fleet.

``collector.shard: i/n`` (or ``pvrelief collect --shard i/n``) makes a collector carry shard i
of n (1-based). The fleet is split by a stable hash of the plant: a plant's gateways, devices
and DL/T 645 meters all land in one shard. That keeps every gateway with one master (a gateway
takes one, and its requests must be serialised by one process), and it keeps the judgements
made over a whole plant whole: the generation-capability alarm sums the plant's energy, the
peer-yield alarm compares an inverter with the plant's other inverters, a plant offline is one
message, and ratings share the plant's AC capacity among its inverters. Split by gateway, a
shard holding half a plant would see half its energy and raise a false low-capability alarm.

The hash is a CRC of the plant id, the same in every process and on every machine, so n
collectors started with 1/n .. n/n carry every plant exactly once, with no coordination. A
plant with devices that push over MQTT belongs to shard 1, the only shard that subscribes:
without a shared subscription every subscriber gets every message.
"""

from __future__ import annotations

import zlib

from config.schema import Config, Plant


def parse_shard(text: str) -> tuple[int, int]:
    """'2/3' -> (2, 3); ValueError naming the problem otherwise."""
    i_text, sep, n_text = text.partition("/")
    try:
        i, n = int(i_text), int(n_text)
    except ValueError:
        raise ValueError(f"shard {text!r}: write i/n, e.g. 2/3") from None
    if not sep or n < 1 or not 1 <= i <= n:
        raise ValueError(f"shard {text!r}: i/n with 1 <= i <= n, e.g. 2/3")
    return i, n


def shard_of(plant: Plant, n: int) -> int:
    """The shard (1..n) that carries ``plant``."""
    if any(d.protocol == "mqtt" for d in plant.all_devices()):
        return 1
    return zlib.crc32(f"plant:{plant.id}".encode()) % n + 1


def shard_config(config: Config) -> Config:
    """This process's part of ``config`` when ``collector.shard`` is set; ``config`` otherwise.

    A copy without the plants of other shards, so every part of the collector (sources,
    communication-loss timers, alarms) carries the same plants. A shard's spool, state folder
    and MQTT client id are its own: two processes never share them. Shards other than 1 do not
    subscribe to MQTT.
    """
    if config.collector.shard is None:
        return config
    i, n = parse_shard(config.collector.shard)
    out = config.model_copy(deep=True)
    for county in out.counties:
        county.plants = [p for p in county.plants if shard_of(p, n) == i]
        for township in county.townships:
            township.plants = [p for p in township.plants if shard_of(p, n) == i]
            for village in township.villages:
                village.plants = [p for p in village.plants if shard_of(p, n) == i]
    suffix = f"shard-{i}-of-{n}"
    out.influxdb = out.influxdb.model_copy(
        update={"spool_dir": config.influxdb.spool_dir / suffix})
    out.state_dir = config.state_path / suffix
    out.mqtt.client_id = f"{config.mqtt.client_id}-{suffix}"
    if i != 1:
        out.mqtt.subscriptions = []
    return out
