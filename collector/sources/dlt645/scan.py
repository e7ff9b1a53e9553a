"""`pvrelief scan --dlt645`: which DL/T 645 meters answer on a gateway's bus, and what they say.

Three ways to find a meter, cheapest first:
1. the read-address command (13H) to the wildcard address AAAAAAAAAAAA: a lone meter on the
   bus answers with its address; two or more answer at once and collide (garbage arrives);
2. the addresses the operator knows (from the nameplates or the config), each asked for its
   forward energy, which every meter carries;
3. with ``search``, abbreviated addressing: AAH stands for the unknown high bytes, so
   AAAAAAAAAA05 reaches every meter whose address ends in 05. Each lowest byte 00..99 is
   tried; where meters collide the next byte is tried under it, and so on. This needs meters
   that support abbreviated addressing, and costs a timeout per silent pattern: about a
   hundred patterns per level (a minute at 2400 baud).
Each meter found is then asked for its energies, its transformer ratios and its clock, which
is what choosing ``export_is`` and the ratios in the config takes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time

from collector.errors import DeviceTimeout
from collector.sources.dlt645.codec import Decoder, decoders
from collector.sources.dlt645.errors import Dlt645Error
from collector.sources.dlt645.frame import WILDCARD
from collector.sources.dlt645.link import Bus, Dlt645Link, LinkOptions
from config.dlt645_identifiers import Catalog, load_catalog

FORWARD, REVERSE, CT, PT, DATE, TIME = (0x00010000, 0x00020000, 0x04000306, 0x04000307,
                                        0x04000101, 0x04000102)


@dataclass
class MeterFound:
    address: str
    found_by: str
    forward_kwh: float | None = None  # as the meter counts it: secondary side
    reverse_kwh: float | None = None
    ct_ratio: float | None = None
    pt_ratio: float | None = None
    clock: datetime | None = None


@dataclass
class BusScan:
    meters: list[MeterFound]
    notes: list[str]
    probes: int = 0


class _Scan:
    def __init__(self, bus: Bus, decs: dict[int, Decoder]) -> None:
        self.bus, self.decs = bus, decs
        self.found: dict[str, MeterFound] = {}
        self.notes: list[str] = []
        self.probes = 0

    async def read_address(self, pattern: str) -> str | bool | None:
        """The address that answers ``pattern``; None: silence; False: a collision."""
        self.probes += 1
        try:
            return await self.bus.read_address(pattern)
        except DeviceTimeout:
            return None
        except Dlt645Error:
            return False  # garbage twice: meters answering at once

    async def value(self, address: str, di: int) -> float | str | date | time | None:
        try:
            v = (await self.bus.read(address, self.decs[di]))[0]
        except (DeviceTimeout, Dlt645Error):
            return None
        return v.value if v.value is not None else v.raw

    async def search(self, low: str = "") -> None:
        """Try every next-higher byte under the known low bytes ``low`` (nameplate order)."""
        for n in range(100):
            suffix = f"{n:02d}{low}"
            pattern = "AA" * (6 - len(suffix) // 2) + suffix
            got = await self.read_address(pattern)
            if isinstance(got, str):
                self.found.setdefault(got, MeterFound(got, f"search ({pattern})"))
            elif got is False:
                if len(suffix) == 12:
                    self.notes.append(f"{suffix}: garbled answers to the full address")
                else:
                    await self.search(suffix)

    async def describe(self, m: MeterFound) -> None:
        fwd, rev, ct, pt = [await self.value(m.address, di) for di in (FORWARD, REVERSE, CT, PT)]
        m.forward_kwh = fwd if isinstance(fwd, float) else None
        m.reverse_kwh = rev if isinstance(rev, float) else None
        m.ct_ratio = ct if isinstance(ct, float) else None
        m.pt_ratio = pt if isinstance(pt, float) else None
        day, clock = await self.value(m.address, DATE), await self.value(m.address, TIME)
        if isinstance(day, date) and isinstance(clock, time):
            m.clock = datetime.combine(day, clock)


async def scan_bus(link: Dlt645Link, known: list[str], search: bool = False,
                   catalog: Catalog | None = None) -> BusScan:
    """Find the meters on ``link``'s bus (see the module docstring)."""
    decs = decoders(catalog or load_catalog())
    async with link.cycle("scan") as bus:
        s = _Scan(bus, decs)
        alone = await s.read_address(WILDCARD)
        if isinstance(alone, str):
            s.found[alone] = MeterFound(alone, "read address (wildcard)")
        elif alone is False:
            s.notes.append("several meters answered the wildcard read-address at once (a "
                           "collision): give their addresses, or --search")
        else:
            s.notes.append("no meter answered the wildcard read-address")
        for address in known:
            if address in s.found:
                continue
            s.probes += 1
            if await s.value(address, FORWARD) is not None:
                s.found[address] = MeterFound(address, "known address")
            else:
                s.notes.append(f"{address}: no answer to its address")
        if search:
            await s.search()
        for m in s.found.values():
            await s.describe(m)
    return BusScan(sorted(s.found.values(), key=lambda m: m.address), s.notes, s.probes)


async def scan_gateway(host: str, port: int, known: list[str], search: bool, baud: int,
                       bits_per_byte: int, timeout_s: float) -> BusScan:
    """Scan the bus behind host:port over a connection of its own."""
    link = Dlt645Link(host, port, LinkOptions(timeout_s=timeout_s,
                                              byte_time_s=bits_per_byte / baud,
                                              slack_s=min(0.15, timeout_s)))
    try:
        return await scan_bus(link, known, search)
    finally:
        await link.close()
