"""Polled readings reach the pipeline in batches; what each poller sees stays as it was."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from collector.batching import PollBatcher
from collector.reading import Reading
from collector.runner import batch_window_s, poll_intervals_s
from config.schema import Config
from timebase.clock import Clock


def reading(device: str) -> Reading:
    return Reading("inverter", "p1", device, 1_600_000_000 * 10**9, {"p_ac_w": 1.0})


class Recorder:
    """A pipeline's put: records each call; refuses readings of devices named 'bad-*'."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    async def __call__(self, readings: Sequence[Reading]) -> None:
        self.calls.append([r.device for r in readings])
        if any(r.device.startswith("bad") for r in readings):
            raise RuntimeError("a stage failed")

    @property
    def kept(self) -> list[str]:
        return [d for call in self.calls if not any(x.startswith("bad") for x in call)
                for d in call]


async def test_concurrent_polls_go_through_in_one_batch_and_each_returns_once_kept() -> None:
    put = Recorder()
    batcher = PollBatcher(put, window_s=0.05)
    returned: list[str] = []

    async def poll(device: str) -> None:
        await batcher([reading(device)])
        assert device in put.kept  # emit returns only once the sinks have it
        returned.append(device)

    await asyncio.gather(*(poll(f"inv-{i}") for i in range(20)))
    assert put.calls == [[f"inv-{i}" for i in range(20)]]
    assert sorted(returned) == sorted(f"inv-{i}" for i in range(20))
    assert batcher.batches == 1


async def test_a_full_batch_goes_at_once() -> None:
    put = Recorder()
    batcher = PollBatcher(put, window_s=10.0, max_readings=5)
    await asyncio.wait_for(asyncio.gather(*(batcher([reading(f"inv-{i}")]) for i in range(5))),
                           timeout=2.0)
    assert put.calls == [[f"inv-{i}" for i in range(5)]]


async def test_a_failing_reading_fails_its_own_poll_only() -> None:
    put = Recorder()
    batcher = PollBatcher(put, window_s=0.02)
    results = await asyncio.gather(batcher([reading("inv-1")]), batcher([reading("bad-2")]),
                                   batcher([reading("inv-3")]), return_exceptions=True)
    assert results[0] is None and results[2] is None
    assert isinstance(results[1], RuntimeError)
    # the batch failed, then each reading went on its own: the good ones are kept once
    assert put.calls[0] == ["inv-1", "bad-2", "inv-3"]
    assert put.calls[1:] == [["inv-1"], ["bad-2"], ["inv-3"]]
    assert put.kept == ["inv-1", "inv-3"]


async def test_a_cancelled_poller_still_has_its_reading_kept_and_close_flushes() -> None:
    put = Recorder()
    batcher = PollBatcher(put, window_s=5.0)
    waiting = asyncio.create_task(batcher([reading("inv-1")]))
    await asyncio.sleep(0.01)
    waiting.cancel()  # a stop, while the poller waits for its batch
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert put.calls == []
    await batcher.close()  # the collector's stop: gathered readings go through now
    assert put.calls == [["inv-1"]]
    await batcher([reading("inv-2")])  # after close: straight through
    assert put.calls == [["inv-1"], ["inv-2"]]


async def test_window_zero_puts_each_call_directly() -> None:
    put = Recorder()
    batcher = PollBatcher(put, window_s=0.0)
    await batcher([reading("inv-1")])
    await batcher([reading("inv-2")])
    assert put.calls == [["inv-1"], ["inv-2"]]


async def test_submitters_do_not_wait_and_each_is_told_of_its_own_readings(caplog) -> None:
    put = Recorder()
    batcher = PollBatcher(put, window_s=0.05)
    told: dict[str, Exception | None] = {}

    def teller(device: str):
        def tell(failure: Exception | None) -> None:
            told[device] = failure
            if device == "inv-0":
                raise KeyError("a bug in one submitter's bookkeeping")
        return tell

    for device in ("inv-0", "inv-1", "bad-2", "inv-3"):
        batcher.submit([reading(device)], teller(device))  # returns at once
    assert put.calls == [] and told == {}  # nothing went through while the batch gathers
    await asyncio.sleep(0.2)
    assert put.kept == ["inv-0", "inv-1", "inv-3"]
    assert told["inv-0"] is None and told["inv-1"] is None and told["inv-3"] is None
    assert isinstance(told["bad-2"], RuntimeError)  # the refused one is told why
    # the first one's bug was logged and the others were still told
    assert any("fared" in r.getMessage() for r in caplog.records)


async def test_after_close_a_submission_goes_on_at_once() -> None:
    put = Recorder()
    batcher = PollBatcher(put, window_s=5.0)
    await batcher.close()
    told: list[Exception | None] = []
    batcher.submit([reading("bad-1")], told.append)
    await asyncio.sleep(0.05)  # not 5 s: a closed batcher does not gather
    assert put.calls == [["bad-1"]] and isinstance(told[0], RuntimeError)


MADE: list[str] = []  # devices whose answers were made into readings, in order


class Answers:
    """A poll's answers: made into a reading only when asked, noting when that happened."""

    def __init__(self, device: str) -> None:
        self.device, self.ts_ns = device, 1_600_000_000 * 10**9

    def reading(self) -> Reading:
        if self.device.startswith("garbled"):
            raise ValueError(f"{self.device}: a block of 3 bytes for a read of 4")
        MADE.append(self.device)
        return reading(self.device)


async def test_deferred_answers_are_decoded_in_the_batch_and_a_bad_one_fails_alone() -> None:
    MADE.clear()
    put = Recorder()
    batcher = PollBatcher(put, window_s=0.05)
    polls = [asyncio.create_task(batcher([Answers(d)]))
             for d in ("inv-1", "garbled-2", "inv-3")]
    polls.append(asyncio.create_task(batcher([reading("inv-4")])))  # a made reading beside
    await asyncio.sleep(0.01)
    assert MADE == []  # nothing decoded while the batch gathers
    results = await asyncio.gather(*polls, return_exceptions=True)
    assert MADE == ["inv-1", "inv-3"]
    assert isinstance(results[1], ValueError) and "garbled-2" in str(results[1])
    assert results[0] is None and results[2] is None and results[3] is None
    # the batch went through once, without the poll that could not be decoded
    assert put.calls == [["inv-1", "inv-3", "inv-4"]]


async def test_deferred_answers_are_decoded_when_the_batcher_puts_straight_through() -> None:
    put = Recorder()
    batcher = PollBatcher(put, window_s=0.0)
    await batcher([Answers("inv-1")])
    assert put.calls == [["inv-1"]]


def _config(interval_s: float, window_s: float = 0.25) -> Config:
    return Config.model_validate({
        "collector": {"batch_window_s": window_s},
        "counties": [{"id": "c", "plants": [{
            "id": "p1", "capacity_kwp_dc": 120, "capacity_kw_ac": 100, "latitude": 36.27,
            "longitude": 100.62, "devices": [
            {"id": "inv-1", "profile": "huawei-sun2000", "host": "127.0.0.1", "port": 1502,
             "poll_interval_s": interval_s}]}]}],
    })


def _window(cfg: Config, clock: Clock) -> float:
    """As the collector works it out from its config."""
    return batch_window_s(cfg.collector.batch_window_s,
                          [clock.real_seconds(i) for i in poll_intervals_s(cfg)])


def test_the_window_is_a_quarter_of_the_shortest_interval_in_real_seconds() -> None:
    real = Clock.real()
    assert _window(_config(60.0), real) == 0.25  # as configured
    assert _window(_config(0.2), real) == pytest.approx(0.05)
    assert _window(_config(60.0, 0.0), real) == 0.0
    # at 1,440x a 60 s interval is 41.7 real ms: the window shrinks with it
    fast = Clock.starting(None, speed=1440.0)
    assert _window(_config(60.0), fast) == pytest.approx(60.0 / 1440 / 4)
