"""One task walks the slots of every device that shares a connection, in the order they fall due.

A gateway (Modbus TCP, or a serial bus behind it) answers one request at a time, so its
devices take turns whatever the collector does. The collector once gave every device a task of
its own, waking on its own timer and queueing on the gateway's lock. On time that costs
nothing extra; behind time (a loaded machine, a loop that stalled) the polls due meanwhile pile
up on the lock, and every handover is one more task wake: at 20,000 devices every 10 s on a
full machine, 1,644 lock waits a second for 2,000 polls, 49 us each, so the further behind
the collector fell, the more CPU each poll took. The floor client in ``bench/collector.py``
walks each gateway with one task and never waits on a lock; so does this: the walk sleeps
until the next slot is due, polls that device, and goes straight on to the next one due.

The order is the one the lock used to give. Slots go in due order, except that a failing or
sleeping device (``DevicePoller.low_priority``) goes after the healthy ones due at the same
instant, within ``LOW_PRIORITY_GRACE_S``: a failing device costs a whole timeout when its turn
comes, and putting it after the healthy polls keeps that timeout from making them late. A
device's priority is taken when its next slot is queued, so a batch that tells of a failure
after that moves it back from its following slot on.

What a slot does (poll, skip for backoff or night, catch up after a long gap) is the device's
own (``DevicePoller.poll_due``); the walk only chooses whose slot is next.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # polling.py starts the walks
    from collector.sources.polling import DevicePoller

log = logging.getLogger(__name__)

# How long after a failing device's due instant healthy devices due then still go first: the
# slots of one instant fall due within a few ms of each other, even on a loaded machine.
LOW_PRIORITY_GRACE_S = 0.02

Queue = list[tuple[int, int, "DevicePoller"]]  # due (collector clock, ns), order queued, device


class ConnectionWalk:
    """The devices of one shared connection, polled one at a time by one task."""

    def __init__(self, pollers: Sequence[DevicePoller], name: str) -> None:
        if not pollers:
            raise ValueError(f"{name}: a walk needs at least one device")
        self.pollers = list(pollers)
        self.name = name
        self.clock = self.pollers[0].clock
        self.stopping = False  # set by PolledSource.stop(): a lost cancel still ends the walk
        self._healthy: Queue = []
        self._low: Queue = []
        self._seq = itertools.count()
        self._bugs: dict[str, str] = {}  # device -> the last unexpected error of its slots
        # sleep at most the shortest interval at a time: should the wall clock step back
        # (NTP), the wait is measured again instead of sleeping through the gap
        self._max_sleep_s = max(self.clock.real_seconds(min(p.interval_s for p in pollers)),
                                0.01)
        self._grace_ns = int(LOW_PRIORITY_GRACE_S * self.clock.speed * 1e9)

    def _queue(self, due_ns: int, poller: DevicePoller) -> None:
        queue = self._low if poller.low_priority else self._healthy
        heapq.heappush(queue, (due_ns, next(self._seq), poller))

    def _next(self) -> Queue:
        """The queue whose first slot goes next."""
        healthy, low = self._healthy, self._low
        if not low:
            return healthy
        if not healthy:
            return low
        # a healthy slot goes first when it is due already, or due within the grace of the
        # failing one's
        first_low = low[0][0]
        if healthy[0][0] <= max(self.clock.now_ns(), first_low + self._grace_ns):
            return healthy
        return low

    async def run(self) -> None:
        for p in self.pollers:
            self._queue(p.first_due_ns(), p)
        clock = self.clock
        while not self.stopping:
            queue = self._next()
            due_ns = queue[0][0]
            due_wall = clock.wall_for(due_ns)
            wait = due_wall - time.time()
            if wait > 0:
                await asyncio.sleep(min(wait, self._max_sleep_s))
                continue  # chosen again: the clock moved, a healthy slot may be due now
            _, _, poller = heapq.heappop(queue)
            try:
                next_ns = await poller.poll_due(due_wall)
            except asyncio.CancelledError:
                raise
            except Exception as e:  # a bug in the slot's bookkeeping: never end the others
                next_ns = self._slot_failed(poller, e)
            self._queue(next_ns, poller)

    def _slot_failed(self, poller: DevicePoller, e: Exception) -> int:
        """The device goes on at its next slot from now; the bug is logged once per change
        (it would recur every slot), with its traceback."""
        text = repr(e)
        if self._bugs.get(poller.device.id) != text:
            self._bugs[poller.device.id] = text
            log.error("%s: a slot failed unexpectedly: %s", poller.device.id, text, exc_info=e)
        return poller.first_due_ns()
