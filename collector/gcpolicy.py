"""Garbage-collector policy of a long-lived collector process (``pvrelief collect``).

Measured at 20,000 devices (bench/collector.py): with Python's defaults the cyclic collector
took half of the process's CPU, re-scanning start-up's objects and finding next to nothing.
"""

from __future__ import annotations

import asyncio
import gc

# net allocations between young collections (Python's default: 700); 10,000 or more made each
# one a stall of a tenth of a second at 20,000 devices
GC_YOUNG_THRESHOLD = 2_000


def freeze_startup_heap() -> None:
    """Exempt what start-up built (config, pollers, decoders, tasks) from garbage collection.

    It lives as long as the process, yet Python's collector re-scans it at every full
    collection, and readings waiting in the sink's batch keep triggering those: with 20,000
    devices that took half of the collector's CPU. ``gc.freeze()`` moves every object alive
    now to a permanent generation that collections skip. For a long-lived process after its
    start (``pvrelief collect``), not for code that builds and drops collectors (tests).
    """
    gc.freeze()  # no gc.collect() first: start-up's garbage is freed by reference counting,
    # and a full collection of 20,000 devices' objects would lengthen the start
    # and collect less often: what a poll allocates is freed by reference counting (readings,
    # answers, dicts hold no cycles), so frequent young collections find next to nothing
    gc.set_threshold(GC_YOUNG_THRESHOLD, 20, 20)


async def freeze_settled_heap(after_s: float) -> None:
    """Freeze again once every device has been polled: ``after_s`` should span its first polls.

    A device's lasting state (its detectors' memory, its counters, its lateness record) is
    built by its first readings, after start-up's freeze; at 20,000 devices that is hundreds
    of thousands of objects that every full collection then re-scanned for nothing (0.44 s
    stalls, and 12 % of the process's CPU in a py-spy profile of the benchmark's first 45 s).
    Frozen without a collection first, like start-up: a cycle that happens to be garbage at
    that instant stays, once, which costs less than a full collection's stall.
    """
    await asyncio.sleep(after_s)
    gc.freeze()


def settle_after_s(intervals_real_s: list[float]) -> float:
    """When the heap has settled: every device polled at least once, with a margin."""
    return 1.5 * max(intervals_real_s, default=60.0) + 1.0
