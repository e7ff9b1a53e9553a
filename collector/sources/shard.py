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

from config.schema import Device


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


def in_shard(device: Device, shard: str | None) -> bool:
    if shard is None:
        return True
    i, n = parse_shard(shard)
    return shard_of(device, n) == i
