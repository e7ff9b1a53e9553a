"""The collector's garbage-collector policy: what start-up and the first polls built is frozen."""

from __future__ import annotations

import gc

from collector.gcpolicy import (
    GC_YOUNG_THRESHOLD,
    freeze_settled_heap,
    freeze_startup_heap,
    settle_after_s,
)


async def test_the_heap_is_frozen_at_start_and_again_once_settled() -> None:
    threshold = gc.get_threshold()
    try:
        freeze_startup_heap()
        at_start = gc.get_freeze_count()
        assert at_start > 0
        assert gc.get_threshold()[0] == GC_YOUNG_THRESHOLD
        # a device's first readings build its lasting state after start-up
        built = [{"device": i, "state": [i]} for i in range(5_000)]
        await freeze_settled_heap(0.01)
        assert gc.get_freeze_count() >= at_start + len(built)
    finally:  # the test process goes on collecting as before
        gc.unfreeze()
        gc.set_threshold(*threshold)


def test_the_heap_settles_after_every_device_was_polled() -> None:
    assert settle_after_s([10.0, 60.0]) == 91.0  # the longest interval, and half again
    assert settle_after_s([]) == 91.0  # nothing polled (MQTT only): a minute's
