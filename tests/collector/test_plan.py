"""The read planner merges neighbours, fills small holes, and respects every limit."""

from __future__ import annotations

import itertools

import pytest

from collector.sources.modbus.decode import DeviceDecoder
from collector.sources.modbus.plan import MAX_REGISTERS, Read, locate, plan_reads
from config.profiles import Point, Unreadable, load_registry


def pt(name: str, address: int, size: int = 1, table: str = "holding") -> Point:
    return Point(name=name, address=address, size=size, type="uint16" if size == 1 else "uint32",
                 table=table)


def test_neighbours_merge_and_tables_stay_apart() -> None:
    points = [pt("a", 100), pt("b", 101, 2), pt("c", 100, table="input")]
    assert plan_reads(points) == [Read("holding", 100, 3), Read("input", 100, 1)]


def test_holes_are_read_through_up_to_max_hole() -> None:
    points = [pt("a", 100), pt("b", 111), pt("c", 200)]
    assert plan_reads(points, max_hole=10) == [Read("holding", 100, 12), Read("holding", 200, 1)]
    assert plan_reads(points, max_hole=9) == [Read("holding", 100, 1), Read("holding", 111, 1),
                                              Read("holding", 200, 1)]


def test_never_more_than_125_registers() -> None:
    points = [pt(f"p{i}", 1000 + i) for i in range(300)]
    reads = plan_reads(points, max_hole=50)
    assert all(r.count <= MAX_REGISTERS for r in reads)
    assert sum(r.count for r in reads) == 300
    assert [r.count for r in plan_reads(points, max_count=100)] == [100, 100, 100]


def test_never_reads_across_an_unreadable_range() -> None:
    points = [pt("a", 5002), pt("b", 5030)]
    refused = [Unreadable("holding", 5010, 5020)]
    assert plan_reads(points, max_hole=50) == [Read("holding", 5002, 29)]
    assert plan_reads(points, max_hole=50, unreadable=refused) == [
        Read("holding", 5002, 1), Read("holding", 5030, 1)]
    # the same range in the other table does not matter
    other = [Unreadable("input", 5010, 5020)]
    assert plan_reads(points, max_hole=50, unreadable=other) == [Read("holding", 5002, 29)]
    with pytest.raises(ValueError, match="unreadable"):
        plan_reads([pt("c", 5015)], unreadable=refused)


def test_overlapping_points_share_a_read() -> None:
    reads = plan_reads([pt("wide", 10, 2), pt("low", 10), pt("high", 11)])
    assert reads == [Read("holding", 10, 2)]
    assert locate(pt("high", 11), reads) == (0, 1)


def test_locate_finds_the_read_and_offset() -> None:
    reads = [Read("holding", 100, 10), Read("input", 100, 10)]
    assert locate(pt("x", 105, table="input"), reads) == (1, 5)
    with pytest.raises(LookupError):
        locate(pt("y", 200), reads)


def test_function_codes() -> None:
    assert Read("holding", 0, 1).function_code == 3
    assert Read("input", 0, 1).function_code == 4


def test_huawei_reads_stay_within_what_sun2000_dongles_accept() -> None:
    """No read over 64 registers, none spanning a gap of more than 16 unwanted registers
    (huawei-solar's limits); before the fix one 108-register read covered 32008..32115."""
    profile = load_registry()["huawei-sun2000"]
    decoder = DeviceDecoder(profile, max_hole=50)  # the collector default; the profile caps it
    assert decoder.max_hole == 16 and decoder.max_count == 64
    for read, points in zip(decoder.reads, decoder.covers, strict=True):
        assert read.count <= 64, read
        used = sorted({a for p in points for a in range(p.address, p.end)})
        gaps = [b - a - 1 for a, b in itertools.pairwise(used)]
        assert max(gaps, default=0) <= 16, (read, gaps)
    # alarms and the 20 PV strings of a SUN2000-100KTL-M1 to the phase voltages, then the rest
    assert decoder.reads == [Read("holding", 32008, 64), Read("holding", 32072, 44)]
