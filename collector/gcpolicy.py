"""Garbage-collector policy of a long-lived collector process (``pvrelief collect``).

Measured at 20,000 devices (bench/collector.py): with Python's defaults the cyclic collector
took half of the process's CPU, re-scanning start-up's objects and finding next to nothing.
"""

from __future__ import annotations

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
