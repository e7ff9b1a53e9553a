"""Polled readings go through the pipeline a batch at a time, not one poll at a time.

At a thousand polls a second, running the stages and the sink for each reading on its own
interleaves them with the event loop's own work on every poll, and the interpreter keeps
fetching the same code back into the processor's caches. Gathering what the pollers read in a
short window and passing it on in one call cost 7 % less CPU per poll in
``bench/collector.py``'s fleet (eight runs alternated, 1,000 devices every second: 477 against
513 us, with a 50 ms window).

Much of a batch's cost is fixed: its task wakes to caches the loop's socket work has evicted,
and its first reading fetches the decoder, stages and line writer back. So the window
(``collector.batch_window_s``) is 250 ms by default, at most a quarter of the shortest poll
interval, and a batch of ``MAX_BATCH`` readings goes at once: a small fleet's batches grow (25
readings instead of 5 at 100 devices a second: 8 % less CPU per poll), a large fleet's stay as
they were (at 1,000 devices a second a batch goes every 100 ms instead of 50: no difference
beyond the noise; ``bench/batch_window.py``). The price is small: a reading reaches the alarms
and the sinks up to a quarter of a second later (the InfluxDB sink lingers up to a second
anyway), and poll lateness p99 at 1,000 devices was 18 ms at worst instead of 11.

A poller does not wait for its batch: it hands its readings over with ``submit`` and a
callback, goes back to its schedule, and is told by the batch how they fared (``None``: every
sink accepted them; else the exception). So a poll still counts only once its reading is kept,
and a failure is still that device's failed poll, without the poller's task waking once more
per poll only to learn that (such a wake took 29 us of CPU at 100 devices a second, timed
callback by callback, where every wake finds cold caches). ``await batcher(readings)`` is the
same for a caller that prefers to wait: it returns once they are kept and raises if they were
not.

A batch that fails is put again reading by reading, so one reading's trouble costs only its
own poll, not its batch's. A reading put twice that way is harmless where it went through
before: the counter guard takes a reading equal to its reference as no change, and InfluxDB
keeps one point per series and time. The window only delays when a reading reaches the
stages, never when a device is polled.

A Modbus poll is decoded in its batch too: its poller hands over the answers (a ``Deferred``)
and the batch makes the readings from them just before the stages run. Decoding fifty polls in
a row instead of one between each poll's socket work cost 6 % less CPU per poll in the same
fleet (four runs alternated, 1,000 devices every second: 313 against 331 us). A poll whose
answers cannot be decoded fails alone, as a failed stage fails it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from typing import Protocol

from collector.reading import Reading
from collector.sources.base import Emit

log = logging.getLogger(__name__)

# readings: a batch this large goes at once, whatever its window. It bounds what the collector
# holds between polls at a large fleet's rate: with 20,000 devices every 10 s, a 250 ms window
# alone made batches of 500, and the readings waiting in them set off young garbage
# collections again (64 young and 3 older in 20 s, 1.5 s of CPU; bench/results/collector.json
# of commit baf10f6; 7 to 13 young ones in the next run, with this cap). A hundred keeps the
# window's gain where it counts, at small fleets, and large fleets' batches as they were.
MAX_BATCH = 100


class Deferred(Protocol):
    """A reading made only when its batch goes through: a poll's answers, not yet decoded."""

    ts_ns: int

    def reading(self) -> Reading:
        """Decode: the reading, or an exception that fails this poll alone."""
        ...


Item = Reading | Deferred
# how a submitter's readings fared, called once its batch is through: None when every one was
# kept, else the first one's exception
Told = Callable[[Exception | None], None]


def made(item: Item) -> Reading:
    return item if isinstance(item, Reading) else item.reading()


class _Batch:
    __slots__ = ("readings", "told")

    def __init__(self) -> None:
        self.readings: list[Item] = []
        # one per submitter: its readings' span in ``readings`` and whom to tell how they
        # fared; each is told of its own, so one submitter's trouble is nobody else's
        self.told: list[tuple[int, int, Told]] = []


class PollBatcher:
    """``emit`` for polled sources: gathers readings for ``window_s`` and puts them together."""

    def __init__(self, put: Emit, window_s: float, max_readings: int = MAX_BATCH) -> None:
        self._put = put
        self.window_s = window_s
        self.max_readings = max_readings
        self._batch: _Batch | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._running: set[asyncio.Task[None]] = set()
        self._closed = window_s <= 0  # closed: every reading goes on at once
        self.batches = 0  # put through the pipeline, for tests and the curious

    def submit(self, readings: Sequence[Item], told: Told) -> None:
        """Hand readings to the batch being gathered; ``told`` learns how they fared once it
        is through. Never waits: closed, the readings go on at once, as a batch of their own."""
        batch = self._batch
        if batch is None:
            batch = self._batch = _Batch()
            if not self._closed:
                self._timer = asyncio.get_running_loop().call_later(self.window_s,
                                                                    self._send)
        start = len(batch.readings)
        batch.readings += readings
        batch.told.append((start, len(batch.readings), told))
        if self._closed or len(batch.readings) >= self.max_readings:
            self._send()

    async def __call__(self, readings: Sequence[Item]) -> None:
        """``emit`` for a caller that waits: returns once every sink has the readings, raises
        why they were not kept."""
        if self._closed:
            await self._put([made(r) for r in readings])
            return
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def told(failure: Exception | None) -> None:
            if done.done():  # the caller was cancelled meanwhile (a stop): it waits no more
                return
            if failure is None:
                done.set_result(None)
            else:
                done.set_exception(failure)

        self.submit(readings, told)
        await done

    def _send(self) -> None:
        """The batch being gathered goes to the pipeline now; the next reading starts another."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        batch, self._batch = self._batch, None
        if batch is not None:
            task = asyncio.get_running_loop().create_task(self._run(batch))
            self._running.add(task)
            task.add_done_callback(self._running.discard)

    async def _run(self, batch: _Batch) -> None:
        failed: dict[int, Exception] = {}  # by index in batch.readings
        readings: list[Reading] = []
        at: list[int] = []  # each reading's index in batch.readings
        for i, item in enumerate(batch.readings):
            try:
                readings.append(made(item))
                at.append(i)
            except Exception as e:  # answers that cannot be decoded: a bug, this poll's alone
                failed[i] = e
        try:
            if readings:
                await self._put(readings)
        except Exception as e:
            if len(readings) == 1:  # on its own already: that poll failed
                failed[at[0]] = e
            else:
                log.debug("a batch of %d readings failed (%r); putting them one by one",
                          len(readings), e)
                for i, r in zip(at, readings, strict=True):
                    try:
                        await self._put([r])
                    except Exception as e1:  # that poll fails, as it would have unbatched
                        failed[i] = e1
        finally:
            for start, end, told in batch.told:
                failure = next((failed[i] for i in range(start, end) if i in failed),
                               None) if failed else None
                try:
                    told(failure)
                except Exception:  # a bug in one submitter's bookkeeping: the others are told
                    log.exception("telling a submitter how its readings fared failed")
        self.batches += 1

    async def close(self) -> None:
        """Put what is gathered through now and wait for every batch; later calls go straight
        through. The collector calls this after its sources stopped, before the stages and
        sinks: a stop never loses a reading that was polled."""
        self._closed = True
        self._send()
        while self._running:
            await asyncio.gather(*self._running, return_exceptions=True)
