"""SunSpec discovery, as the SunSpec specification (and any standard SunSpec client) does it.

1. Look for the "SunS" marker (0x5375 0x6E53) in holding registers at 40000, then 0, then 50000.
2. After the marker, walk the model chain: each model starts with its id and its length (in
   registers, not counting those two); the next model follows; id 0xFFFF ends the chain.
3. Lay the points of every model we carry a definition of over the discovered addresses, so a
   profile that says ``sunspec: {discover: true}`` is resolved at start-up from what the device
   really holds (models and repeating blocks as the device has them, shorter models included).

Reads start on model boundaries, as the specification asks. The reading function is injected:
the collector passes one over its Modbus endpoint, tests pass one over a register image.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace

from collector.errors import DecodeError
from collector.sources.modbus.codec import decode_raw
from config.profiles import (
    Profile,
    SunSpecBlock,
    SunSpecLayout,
    SunSpecModelRef,
    resolve_sunspec,
    sunspec_model,
)

# (address, count) -> the holding registers, or None when the device refuses that address
ReadHolding = Callable[[int, int], Awaitable[list[int] | None]]

MARKER = [0x5375, 0x6E53]  # "SunS"
BASES = (40000, 0, 50000)  # the specification's order
END_OF_CHAIN = 0xFFFF
MAX_MODELS = 100  # a chain longer than this is a device answering garbage, not SunSpec
COMMON_MODEL = 1


class DiscoveryError(DecodeError):
    """The device is not SunSpec, or its model chain cannot be walked."""


@dataclass(frozen=True, slots=True)
class SunSpecChain:
    base: int  # where "SunS" sits
    blocks: tuple[SunSpecBlock, ...]

    @property
    def model_ids(self) -> tuple[int, ...]:
        return tuple(b.model_id for b in self.blocks)


async def find_base(read: ReadHolding, bases: tuple[int, ...] = BASES) -> int | None:
    for base in bases:
        words = await read(base, 2)
        if words == MARKER:
            return base
    return None


async def walk_chain(read: ReadHolding, base: int) -> SunSpecChain:
    blocks: list[SunSpecBlock] = []
    addr = base + 2
    while True:
        header = await read(addr, 2)
        if header is None or len(header) != 2:
            raise DiscoveryError(f"no model header at {addr} (chain from {base})")
        model_id, length = header
        if model_id == END_OF_CHAIN:
            return SunSpecChain(base, tuple(blocks))
        if model_id == 0 or len(blocks) >= MAX_MODELS or addr + 2 + length > 0xFFFF:
            raise DiscoveryError(f"implausible model {model_id} (length {length}) at {addr}")
        blocks.append(SunSpecBlock(model_id, addr, length))
        addr += 2 + length


async def discover(read: ReadHolding, bases: tuple[int, ...] = BASES) -> SunSpecChain:
    base = await find_base(read, bases)
    if base is None:
        raise DiscoveryError(f"no SunSpec marker at {', '.join(map(str, bases))}")
    return await walk_chain(read, base)


def layout_of(chain: SunSpecChain) -> SunSpecLayout:
    """The profile layout that matches a discovered chain, repeating blocks counted."""
    refs = []
    for b in chain.blocks:
        model = sunspec_model(b.model_id)
        repeats = 0
        if model is not None and model.repeating is not None and model.repeating.length:
            repeats = max(0, (b.length - model.length) // model.repeating.length)
        refs.append(SunSpecModelRef(id=b.model_id, repeats=repeats, length=b.length))
    return SunSpecLayout(base=chain.base, models=refs)


def profile_from_chain(template: Profile, chain: SunSpecChain) -> Profile:
    """``template`` (a SunSpec profile) with its points laid out as the device has them."""
    points, blocks = resolve_sunspec(layout_of(chain))
    return replace(template, points=tuple(points), sunspec_base=chain.base,
                   sunspec_blocks=tuple(blocks), by_name={})


async def resolve_discovered(template: Profile, read: ReadHolding) -> Profile:
    """Start-up step for a device whose profile says ``discover: true``."""
    bases = BASES
    if template.sunspec_base is not None:  # the profile's own base first, then the standard ones
        bases = (template.sunspec_base, *(b for b in BASES if b != template.sunspec_base))
    return profile_from_chain(template, await discover(read, bases))


@dataclass(frozen=True, slots=True)
class CommonModel:
    manufacturer: str
    model: str
    version: str
    serial: str


async def read_common(read: ReadHolding, chain: SunSpecChain) -> CommonModel | None:
    """Manufacturer, model, version and serial from model 1, if the device has it."""
    block = next((b for b in chain.blocks if b.model_id == COMMON_MODEL), None)
    if block is None or block.length < 64:
        return None
    words = await read(block.address + 2, 64)
    if words is None:
        return None

    def text(offset: int, size: int) -> str:
        return str(decode_raw("string", words[offset : offset + size]))

    return CommonModel(text(0, 16), text(16, 16), text(40, 8), text(48, 16))
