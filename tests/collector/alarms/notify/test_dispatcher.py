"""Sending: digests, the robot's rate, retries until a receiver that was down or slow answers."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from collector.alarms.builtin import Builtins
from collector.alarms.lifecycle import Lifecycle
from collector.alarms.model import Signal
from collector.alarms.notify.dispatcher import Dispatcher
from collector.alarms.notify.messages import Renderer
from collector.alarms.store import Outgoing
from config.alarm_settings import NotifySettings
from localsite.servers import free_port
from tests.collector.alarms.helpers import CATALOG, NOON, S, config
from tests.collector.alarms.receiver import Receiver

CFG = config()
B = Builtins(CFG.alarms, CATALOG)
SECRET = "SECabcdef0123456789"


def _items(n: int, start: int = 1, channel: str = "robot") -> list[Outgoing]:
    lc = Lifecycle(CFG.alarms, next_id=start)
    for i in range(n):
        lc.signal(Signal("p1", f"inv-{start + i:02d}", B.comm_loss, True, NOON + i * S))
    return [Outgoing(t.alarm.id, channel, t, 0) for t in lc.drain()]


class Book:
    """Stands in for the outbox table: what was marked sent, failed, dropped."""

    def __init__(self) -> None:
        self.sent: list[int] = []
        self.failed: list[int] = []
        self.dropped: list[int] = []

    async def __call__(self, sent: Sequence[int], failed: Sequence[int],
                       dropped: Sequence[int]) -> None:
        self.sent += sent
        self.failed += failed
        self.dropped += dropped


def _dispatcher(port: int, book: Book, **notify: object) -> Dispatcher:
    settings = NotifySettings.model_validate({
        "channels": [{"id": "robot", "type": "dingtalk", "secret": {"value": SECRET},
                      "url": {"value": f"http://127.0.0.1:{port}/robot/send?access_token=T"}}],
        "rules": [{"channels": ["robot"]}], "digest_wait_s": 0.2, "timeout_s": 1.0,
        "retry_initial_s": 0.1, "retry_max_s": 0.5, **notify})
    renderers = {lang: Renderer(lang, {"p1": "甲村电站"}, lambda p: "Asia/Shanghai")
                 for lang in ("zh", "en")}
    return Dispatcher(settings, renderers, book)


async def _until(predicate: object, timeout: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():  # type: ignore[operator]
        assert loop.time() < deadline, "not within the time"
        await asyncio.sleep(0.02)


async def test_a_burst_is_one_signed_digest() -> None:
    port, book = free_port(), Book()
    async with Receiver(port, secret=SECRET) as rx:
        d = _dispatcher(port, book)
        await d.start()
        d.submit(_items(40))  # a whole plant goes offline at once
        await _until(lambda: book.sent)
        await asyncio.sleep(0.5)
        await d.stop()
    assert rx.refused == 0 and len(rx.received) == 1  # signed correctly, one message
    body = rx.received[0].body
    assert body["msgtype"] == "markdown"
    assert body["markdown"]["title"].startswith("告警汇总: 40 条")
    assert sorted(book.sent) == list(range(1, 41))


async def test_no_more_than_the_robots_rate() -> None:
    port, book = free_port(), Book()
    async with Receiver(port, secret=SECRET) as rx:
        d = _dispatcher(port, book, digest_wait_s=0.0, channels=[{
            "id": "robot", "type": "dingtalk", "secret": {"value": SECRET}, "per_minute": 2,
            "url": {"value": f"http://127.0.0.1:{port}/robot/send?access_token=T"}}])
        await d.start()
        for i in range(6):  # six alarms, far enough apart to be six messages without a limit
            d.submit(_items(1, start=i + 1))
            await asyncio.sleep(0.15)
        await asyncio.sleep(0.5)
        await d.stop()
    assert len(rx.received) == 2  # the bucket holds two; the next token comes in 30 s
    assert book.sent == [1, 2]
    assert [o.id for o in d.queues["robot"]] == [3, 4, 5, 6]  # waiting (and in the outbox)


async def test_a_receiver_that_is_down_then_slow_gets_everything_once_it_answers() -> None:
    port, book = free_port(), Book()
    d = _dispatcher(port, book)
    await d.start()
    d.submit(_items(1))
    await _until(lambda: d.failures["robot"] >= 2)  # connection refused, retried
    async with Receiver(port, secret=SECRET, delay_s=1.5) as slow:  # slower than timeout_s
        d.submit(_items(2, start=2))
        await _until(lambda: slow.refused == 0 and d.failures["robot"] >= 4)
    async with Receiver(port, secret=SECRET) as rx:
        await _until(lambda: len(book.sent) == 3)
    await d.stop()
    delivered = [e["id"] for r in rx.received for e in _events(r.body)]
    assert sorted(delivered) == [1, 2, 3] and len(rx.received) == 1  # one digest of all three
    assert book.failed and set(book.failed) <= {1, 2, 3}


def _events(body: dict[str, object]) -> list[dict[str, int]]:
    text = body["markdown"]["text"]  # type: ignore[index]
    return [{"id": int(part.split(")")[0])} for part in str(text).split("(#")[1:]]


async def test_a_robot_refusal_is_retried_and_the_oldest_are_dropped_past_the_cap() -> None:
    port, book = free_port(), Book()
    async with Receiver(port, errcode=130101) as rx:  # DingTalk: "send too fast"
        d = _dispatcher(port, book, max_pending=10)
        await d.start()
        d.submit(_items(25))
        await _until(lambda: rx.refused >= 2)
        await d.stop()
    assert sorted(book.dropped) == list(range(1, 16))  # the oldest 15 went, logged
    assert [o.id for o in d.queues["robot"]] == list(range(16, 26))
    assert book.sent == []
