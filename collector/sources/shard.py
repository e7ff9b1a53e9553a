"""Sharding: which devices this collector polls when several processes share one fleet.

``collector.shard: i/n`` (or ``pvrelief collect --shard i/n``) makes a collector poll shard i of
n (1-based). Devices are split by a stable hash of their gateway, so every device behind one
gateway lands in the same shard: a gateway takes one master, and its requests must be
serialised by one process. A device with its own host:port is its own "gateway". The hash is
a CRC of the gateway id (or host:port), the same in every process and on every machine, so n
collectors started with 1/n .. n/n poll every device exactly once, with no coordination.
"""

from __future__ import annotations

import zlib

from config.schema import Config, Device


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


def shard_key(device: Device) -> str:
    """What a device is sharded by: its gateway, or its own host:port."""
    return f"gateway:{device.gateway}" if device.gateway else f"{device.host}:{device.port}"


def shard_of(device: Device, n: int) -> int:
    """The shard (1..n) that polls ``device``."""
    return zlib.crc32(shard_key(device).encode()) % n + 1


def gateway_shard(gateway_id: str, n: int) -> int:
    """The shard (1..n) that polls every device behind gateway ``gateway_id``."""
    return zlib.crc32(f"gateway:{gateway_id}".encode()) % n + 1


def shard_config(config: Config) -> Config:
    """This process's part of ``config`` when ``collector.shard`` is set; ``config`` otherwise.

    A copy keeps every plant (its capacity, village shares and timezone are the plant's, not
    the shard's) with only the Modbus devices, Modbus gateways and DL/T 645 gateways of this
    shard, so every part of the collector (sources, comm-loss timers, alarms) sees the same
    devices. Devices pushed over MQTT are not polled: they stay with shard 1, the only shard
    that subscribes (for more MQTT capacity, use ``mqtt.share_group`` across collectors). A
    shard's spool, state folder and MQTT client id are its own: two processes never share them.
    """
    if config.collector.shard is None:
        return config
    i, n = parse_shard(config.collector.shard)
    out = config.model_copy(deep=True)
    for plant in out.plants():
        plant.devices = [d for d in plant.devices
                         if (shard_of(d, n) == i if d.protocol == "modbus-tcp" else i == 1)]
        plant.gateways = [g for g in plant.gateways if gateway_shard(g.id, n) == i]
        plant.dlt645_gateways = [g for g in plant.dlt645_gateways
                                 if gateway_shard(g.id, n) == i]
        plant._resolve()
    suffix = f"shard-{i}-of-{n}"
    out.influxdb = out.influxdb.model_copy(
        update={"spool_dir": config.influxdb.spool_dir / suffix})
    out.state_dir = config.state_path / suffix
    out.mqtt.client_id = f"{config.mqtt.client_id}-{suffix}"
    if i != 1:
        out.mqtt.subscriptions = []
    return out
