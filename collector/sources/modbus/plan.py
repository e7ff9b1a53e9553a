"""Request planning: merge the points a device needs into the fewest Modbus reads.

Neighbouring registers are merged, and holes up to ``max_hole`` registers are read through,
as Telegraf's optimiser does; a read never exceeds the protocol limit of 125 registers (or the
device's own smaller limit), and never reaches into registers the device refuses to read.
The plan is computed once per device, at start-up.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from config.profiles import Point, Unreadable

MAX_REGISTERS = 125  # Modbus: at most 125 holding/input registers in one read


@dataclass(frozen=True, slots=True)
class Read:
    table: str  # "holding" (function 3) | "input" (function 4)
    address: int
    count: int

    @property
    def end(self) -> int:
        return self.address + self.count

    @property
    def function_code(self) -> int:
        return 3 if self.table == "holding" else 4


def _touches(table: str, start: int, end: int, unreadable: Sequence[Unreadable]) -> bool:
    return any(u.table == table and start < u.end and u.start < end for u in unreadable)


def plan_reads(points: Iterable[Point], max_hole: int = 10, max_count: int = MAX_REGISTERS,
               unreadable: Sequence[Unreadable] = ()) -> list[Read]:
    reads: list[Read] = []
    ordered = sorted(points, key=lambda p: (p.table, p.address))
    for p in ordered:
        if p.size > max_count:
            raise ValueError(f"point {p.name} spans {p.size} registers, over {max_count}")
        if _touches(p.table, p.address, p.end, unreadable):
            raise ValueError(f"point {p.name} at {p.address} lies in an unreadable range")
        last = reads[-1] if reads else None
        if last is not None and last.table == p.table and p.address < last.end:
            if p.end > last.end:  # overlapping points: grow the read if the limit allows
                if p.end - last.address <= max_count:
                    reads[-1] = Read(last.table, last.address, p.end - last.address)
                    continue
            else:
                continue
        if (
            last is not None
            and last.table == p.table
            and p.address - last.end <= max_hole
            and max(last.end, p.end) - last.address <= max_count
            and not _touches(p.table, last.end, p.address, unreadable)
        ):
            reads[-1] = Read(last.table, last.address, max(last.end, p.end) - last.address)
        else:
            reads.append(Read(p.table, p.address, p.size))
    return reads


def locate(point: Point, reads: list[Read]) -> tuple[int, int]:
    """(index of the read holding ``point``, offset of the point within it)."""
    for i, r in enumerate(reads):
        if r.table == point.table and r.address <= point.address and \
                point.address + point.size <= r.end:
            return i, point.address - r.address
    raise LookupError(f"point {point.name} at {point.address} is in no read")
