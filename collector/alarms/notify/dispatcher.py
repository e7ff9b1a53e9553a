"""One task per channel: gather, digest, respect the robot's rate, retry until delivered.

Each channel has a queue of outbox entries (already stored, so nothing is lost by a restart).
When something arrives the task waits ``digest_wait_s`` for more, takes a token from the
channel's bucket (``per_minute`` messages a minute), and sends everything queued as one
message: a single alarm as itself, several as a digest grouped by plant. A failed send is
retried with capped exponential backoff; meanwhile new alarms join the queue and go out in
the same digest once the receiver answers again. None of this touches the pipeline: a
receiver that is down or slow only makes its own queue longer (bounded by ``max_pending``,
beyond which the oldest entries are dropped and logged).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Sequence
from typing import Any

import httpx

from collector.alarms.errors import NotifyError
from collector.alarms.notify.channels import ChannelSender
from collector.alarms.notify.messages import Renderer
from collector.alarms.store import Outgoing
from config.alarm_settings import NotifySettings

log = logging.getLogger(__name__)

# marks outbox rows: (sent ids, failed ids, dropped ids); runs the store off the event loop
Done = Callable[[Sequence[int], Sequence[int], Sequence[int]], Awaitable[None]]


class TokenBucket:
    def __init__(self, per_minute: int) -> None:
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0
        self.tokens = self.capacity
        self.at = time.monotonic()

    def _refill(self) -> None:
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.at) * self.rate)
        self.at = now

    async def take(self) -> None:
        self._refill()
        while self.tokens < 1.0:
            await asyncio.sleep((1.0 - self.tokens) / self.rate)
            self._refill()
        self.tokens -= 1.0


class Dispatcher:
    def __init__(self, settings: NotifySettings, renderers: dict[str, Renderer],
                 done: Done) -> None:
        self.settings = settings
        self.renderers = renderers
        self.done = done
        self.client = httpx.AsyncClient(timeout=settings.timeout_s, trust_env=False)
        self.senders = {c.id: ChannelSender(c, self.client) for c in settings.channels}
        self.queues: dict[str, list[Outgoing]] = {c: [] for c in self.senders}
        self.sent: dict[str, int] = dict.fromkeys(self.senders, 0)  # messages delivered
        self.failures: dict[str, int] = dict.fromkeys(self.senders, 0)
        self._wake = {c: asyncio.Event() for c in self.senders}
        self._tasks: list[asyncio.Task[None]] = []
        self._background: set[asyncio.Task[None]] = set()

    @property
    def pending(self) -> int:
        return sum(len(q) for q in self.queues.values())

    async def start(self, pending: Iterable[Outgoing] = ()) -> None:
        self.submit(pending)
        self._tasks = [asyncio.create_task(self._run(c), name=f"notify-{c}")
                       for c in self.senders]

    def submit(self, items: Iterable[Outgoing]) -> None:
        """Queue stored outbox entries; never waits."""
        dropped: list[int] = []
        for o in items:
            q = self.queues.get(o.channel)
            if q is None:  # a channel removed from the config since it was stored
                dropped.append(o.id)
                continue
            q.append(o)
            self._wake[o.channel].set()
            over = len(q) - self.settings.max_pending
            if over > 0:
                dropped += [x.id for x in q[:over]]
                del q[:over]
                log.error("channel %s: more than %d notifications waiting; dropped the "
                          "oldest %d", o.channel, self.settings.max_pending, over)
        if dropped:
            self._later(self._mark((), (), dropped))

    async def stop(self) -> None:
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await t
        self._tasks = []
        await self.client.aclose()

    def _later(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro)
        self._background.add(task)  # a task nobody holds may be collected before it runs
        task.add_done_callback(self._background.discard)

    async def _run(self, cid: str) -> None:
        s = self.settings
        q, wake, sender = self.queues[cid], self._wake[cid], self.senders[cid]
        renderer = self.renderers[sender.spec.lang]
        bucket = TokenBucket(sender.spec.per_minute)
        delay = s.retry_initial_s
        failing: str | None = None
        while True:
            if not q:
                wake.clear()
                await wake.wait()
                await asyncio.sleep(s.digest_wait_s)  # let a burst gather into one message
            await bucket.take()
            batch = list(q)
            if not batch:
                continue
            ids = [o.id for o in batch]
            try:
                await sender.send(renderer.render([o.transition for o in batch]))
            except Exception as e:  # NotifyError, or a bug in rendering: retry, never die
                self.failures[cid] += 1
                if failing != str(e):
                    level = logging.WARNING if isinstance(e, NotifyError) else logging.ERROR
                    log.log(level, "notification not delivered (%s); %d waiting, retrying",
                            e if isinstance(e, NotifyError) else repr(e), len(q))
                    failing = str(e)
                await self._mark((), ids, ())
                await asyncio.sleep(delay * (0.5 + random.random() / 2))
                delay = min(delay * 2, s.retry_max_s)
                continue
            sent = set(ids)
            q[:] = [o for o in q if o.id not in sent]
            self.sent[cid] += 1
            if failing is not None:
                log.info("channel %s delivers again", cid)
                failing = None
            delay = s.retry_initial_s
            await self._mark(ids, (), ())

    async def _mark(self, sent: Sequence[int], failed: Sequence[int],
                    dropped: Sequence[int]) -> None:
        try:
            await self.done(sent, failed, dropped)
        except Exception as e:  # the state database: a sent mark lost means one resend
            log.error("notification outbox not updated: %r", e)
