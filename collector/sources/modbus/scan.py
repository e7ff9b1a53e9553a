"""`pvrelief scan`: which unit ids answer on a gateway, and which profile each one speaks.

A unit is identified, in this order, by the SunSpec marker and model chain, then by the
``identify:`` rule of each vendor profile (the Huawei model string at 30000, the Sungrow device
type code at document address 5000, a DTSU666's frequency register). The rules are data in the
profiles, so a new profile is recognised without touching this file.

A timeout on one probe means only "not that profile": a SUN2000 behind some dongles stays
silent on 40000 instead of answering exception 2. A unit is absent when the gateway says so
(exception 10/11) or when every probe timed out; scanning many empty unit ids therefore costs
one timeout per probe each (narrow ``--units`` on a slow gateway).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field

from collector.errors import DeviceException, DeviceTimeout
from collector.sources.modbus.codec import decode_raw
from collector.sources.modbus.discovery import DiscoveryError, find_base, read_common, walk_chain
from collector.sources.modbus.endpoint import ModbusEndpoint
from collector.sources.modbus.plan import Read
from config.profiles import Identify, Profile, ProfileRegistry

GATEWAY_NO_PATH, GATEWAY_NO_RESPONSE = 10, 11  # exception codes: the unit is not there

# (table, address, count) -> words, or None when the unit refuses that address
ReadRegisters = Callable[[str, int, int], Awaitable[list[int] | None]]


class UnitAbsent(Exception):
    """Nothing answers for this unit id (every probe timed out, or the gateway says so)."""


class ProbeTimeout(Exception):
    """One probe got no answer: that profile's register is not served, or the unit is absent."""


@dataclass
class ScanResult:
    unit: int
    profile: str | None  # None: it answers, but no profile recognises it
    detail: str = ""  # model name, device type code, SunSpec models ...
    serial: str | None = None
    models: tuple[int, ...] = field(default_factory=tuple)  # SunSpec model chain


def parse_units(spec: str) -> list[int]:
    """'1-5,7,10-12' -> [1, 2, 3, 4, 5, 7, 10, 11, 12]; unit ids are 0..247."""
    units: set[int] = set()
    for part in spec.split(","):
        part = part.strip()
        if not part:
            continue
        lo, _, hi = part.partition("-")
        first, last = int(lo), int(hi or lo)
        if not 0 <= first <= last <= 247:
            raise ValueError(f"unit range {part!r} is not within 0-247")
        units.update(range(first, last + 1))
    return sorted(units)


def endpoint_reader(endpoint: ModbusEndpoint, unit: int) -> ReadRegisters:
    async def read(table: str, address: int, count: int) -> list[int] | None:
        try:
            return await endpoint.read(f"unit {unit}", unit, Read(table, address, count))
        except DeviceException as e:
            if e.code in (GATEWAY_NO_PATH, GATEWAY_NO_RESPONSE):
                raise UnitAbsent(str(e)) from e
            return None  # illegal address / function: the unit is there, the register is not
        except DeviceTimeout as e:
            raise ProbeTimeout(str(e)) from e
    return read


class _Probes:
    """Wraps a reader: a timed-out probe reads as "not here", and the outcome is counted."""

    def __init__(self, read: ReadRegisters) -> None:
        self._read = read
        self.answered = 0
        self.timeouts: list[str] = []

    async def __call__(self, table: str, address: int, count: int) -> list[int] | None:
        try:
            words = await self._read(table, address, count)
        except ProbeTimeout as e:
            self.timeouts.append(str(e))
            return None
        self.answered += 1  # words, or an exception response: either way the unit is there
        return words


def _value(rule: Identify, words: list[int]) -> int | float | str:
    return decode_raw(rule.type, words)


def matches(rule: Identify, words: list[int]) -> str | None:
    """What the identifying register says (a model name, a code), or None if it is not ours."""
    value = _value(rule, words)
    if rule.match is not None:
        text = str(value)
        return text if re.search(rule.match, text, re.IGNORECASE) else None
    if rule.values is not None:
        name = rule.values.get(int(value)) if isinstance(value, int) else None
        return f"{name} (0x{int(value):04X})" if name else None
    if rule.range is not None and isinstance(value, int | float):
        lo, hi = rule.range
        return f"{rule.label} {value:g}" if lo <= value <= hi else None
    return None


def _sunspec_profile(registry: ProfileRegistry, models: tuple[int, ...]) -> str | None:
    for p in registry.values():
        if p.sunspec_blocks and tuple(b.model_id for b in p.sunspec_blocks) == models:
            return p.name
    for p in registry.values():  # a profile that discovers its layout takes any SunSpec device
        if p.sunspec_discover:
            return p.name
    return None


async def _serial(read: ReadRegisters, profile: Profile) -> str | None:
    p = next((p for p in profile.points if p.field == "serial" and p.type == "string"), None)
    if p is None:
        return None
    words = await read(p.table, p.address, p.size)
    if not words:
        return None
    return str(decode_raw("string", words)) or None


def _rules(registry: ProfileRegistry) -> list[Profile]:
    # the most specific rules first: a model string, then a code list, then a value range
    def rank(p: Profile) -> int:
        assert p.identify is not None
        return 0 if p.identify.match else (1 if p.identify.values else 2)
    return sorted((p for p in registry.values() if p.identify), key=lambda p: (rank(p), p.name))


async def identify(read: ReadRegisters, unit: int, registry: ProfileRegistry) -> ScanResult:
    """Raises UnitAbsent when nothing answers for ``unit``: every probe timed out."""
    probes = _Probes(read)
    result = await _identify(probes, unit, registry)
    if not probes.answered:
        raise UnitAbsent(probes.timeouts[-1] if probes.timeouts else f"unit {unit}: no answer")
    return result


async def _identify(read: ReadRegisters, unit: int, registry: ProfileRegistry) -> ScanResult:
    async def holding(address: int, count: int) -> list[int] | None:
        return await read("holding", address, count)

    base = await find_base(holding)
    if base is not None:
        try:
            chain = await walk_chain(holding, base)
        except DiscoveryError as e:
            return ScanResult(unit, None, f"SunSpec marker at {base}, but {e}")
        common = await read_common(holding, chain)
        detail = f"SunSpec at {base}, models {', '.join(map(str, chain.model_ids))}"
        if common is not None:
            detail = f"{common.manufacturer} {common.model}; {detail}".strip("; ")
        return ScanResult(unit, _sunspec_profile(registry, chain.model_ids), detail,
                          common.serial if common else None, chain.model_ids)
    for profile in _rules(registry):
        rule = profile.identify
        assert rule is not None
        words = await read(rule.table, rule.address, rule.size)
        if words is None:
            continue
        found = matches(rule, words)
        if found is not None:
            return ScanResult(unit, profile.name, found, await _serial(read, profile))
    return ScanResult(unit, None, "answers, but matches no profile")


async def scan(endpoint: ModbusEndpoint, units: Iterable[int],
               registry: ProfileRegistry) -> list[ScanResult]:
    """Every unit in ``units`` that answers, identified. Units are asked one after another:
    a gateway serves one request at a time anyway."""
    found: list[ScanResult] = []
    for unit in units:
        try:
            found.append(await identify(endpoint_reader(endpoint, unit), unit, registry))
        except UnitAbsent:
            continue
    return found  # a SourceError (no connection at all) propagates: nothing would answer


async def scan_target(host: str, port: int, units: list[int], timeout_s: float,
                   registry: ProfileRegistry) -> list[ScanResult]:
    """Scan ``units`` at host:port over a connection of its own."""
    endpoint = ModbusEndpoint(host, port, timeout_s)
    try:
        return await scan(endpoint, units, registry)
    finally:
        await endpoint.close()
