"""A bug in one poll (a sink or decoder raising) neither ends that device's polling nor
keeps the collector from stopping."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

from collector.reading import Reading
from collector.runner import Collector
from collector.sinks.base import CallbackSink
from collector.sources.modbus.source import modbus_source
from config.loader import load_config
from simulator.fleet import Fleet
from tests.e2e_helpers import small_fleet_config
from tests.waiting import wait_until
from timebase.clock import Clock


async def test_an_unexpected_error_is_logged_and_polling_goes_on(tmp_path: Path, caplog) -> None:
    cfg = load_config(small_fleet_config(tmp_path, "http://127.0.0.1:9", "unused",
                                         inverters=1, poll_s=60))
    clock = Clock.starting(cfg.simulator.start, cfg.simulator.speed)
    got: list[Reading] = []
    refused = 0

    async def flaky_deliver(readings: Sequence[Reading]) -> None:
        # the inverter's first readings hit a bug: its batch fails, then the inverter's
        # reading on its own (the meter's, put on its own too, is kept)
        nonlocal refused
        if refused < 3 and any(r.device == "p1-inv" for r in readings):
            refused += 1
            raise RuntimeError("sink bug")
        got.extend(readings)

    async with Fleet(cfg, clock):
        collector = Collector(cfg, [CallbackSink(flaky_deliver)], clock)
        await collector.start()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 30
        while {r.device for r in got} != {"p1-inv", "p1-meter"}:
            assert loop.time() < deadline, "polling stopped after the error"
            await asyncio.sleep(0.05)
        await asyncio.wait_for(collector.stop(), 10)
    assert "poll failed unexpectedly" in caplog.text and "sink bug" in caplog.text
    failures = {p.device.id: p.state.failures for p in collector.pollers}
    assert failures["p1-inv"] >= 1 and failures["p1-meter"] == 0
    assert all(t.done() for t in modbus_source(collector)._tasks)


async def test_stop_ends_a_poller_whose_cancellation_was_lost(tmp_path: Path) -> None:
    """Python 3.11's wait_for can swallow a cancel that races a completing read; stop() must
    still end every task, within its bound."""
    cfg = load_config(small_fleet_config(tmp_path, "http://127.0.0.1:9", "unused",
                                         inverters=1, poll_s=60))
    clock = Clock.starting(cfg.simulator.start, cfg.simulator.speed)
    inside = asyncio.Event()
    swallowed = 0

    async def deliver(readings: Sequence[Reading]) -> None:
        return None

    async with Fleet(cfg, clock):
        collector = Collector(cfg, [CallbackSink(deliver)], clock)
        poller = collector.pollers[0]
        real_poll = poller._poll_slot

        async def poll_losing_one_cancel(*args, **kwargs) -> int:
            nonlocal swallowed
            try:
                inside.set()
                await asyncio.sleep(0.5)  # a read in flight
                return await real_poll(*args, **kwargs)
            except asyncio.CancelledError:
                if swallowed:
                    raise
                swallowed += 1
                return 0  # as wait_for does when the inner call won the race

        poller._poll_slot = poll_losing_one_cancel  # type: ignore[method-assign]
        await collector.start()
        await asyncio.wait_for(inside.wait(), 20)
        await asyncio.wait_for(collector.stop(), 15)
    assert swallowed == 1
    assert all(t.done() for t in modbus_source(collector)._tasks)


async def test_a_repeating_bug_backs_off_and_logs_its_traceback_once(
    tmp_path: Path, caplog
) -> None:
    """Issue 9: an unexpected exception on every poll used to reset the backoff and log a full
    traceback each time (692 lines in 15 s). Now it is a failure like a silent device's."""
    cfg = load_config(small_fleet_config(tmp_path, "http://127.0.0.1:9", "unused",
                                         inverters=1, poll_s=60))
    clock = Clock.starting(cfg.simulator.start, cfg.simulator.speed)

    async def broken(readings: Sequence[Reading]) -> None:
        raise ValueError("the same bug every time")

    async with Fleet(cfg, clock):
        collector = Collector(cfg, [CallbackSink(broken)], clock)
        await collector.start()
        inv = next(p for p in collector.pollers if p.device.id == "p1-inv")
        await wait_until(lambda: inv.state.skipped_slots >= 3, 30, "backoff skipping slots")
        await asyncio.wait_for(collector.stop(), 10)
    assert inv.state.consecutive_failures >= 3
    tracebacks = [r for r in caplog.records if r.exc_info and r.name.startswith("collector")
                  and "p1-inv" in r.getMessage()]
    assert len(tracebacks) == 1, [r.getMessage() for r in tracebacks]


async def test_a_poll_does_not_wait_for_its_batch_and_is_told_how_it_fared(
    tmp_path: Path,
) -> None:
    """The schedule hands a reading to its batch and goes on; the batch tells the poller
    whether the reading was kept, and only then does the poll count (or fail)."""
    cfg = load_config(small_fleet_config(tmp_path, "http://127.0.0.1:9", "unused",
                                         inverters=1, poll_s=60))
    clock = Clock.starting(cfg.simulator.start, cfg.simulator.speed)
    gate = asyncio.Event()
    refuse = True

    async def slow_deliver(readings: Sequence[Reading]) -> None:
        await gate.wait()  # a sink that takes its time
        if refuse:
            raise RuntimeError("refused by the sink")

    async with Fleet(cfg, clock):
        collector = Collector(cfg, [CallbackSink(slow_deliver)], clock)  # not started
        inv = next(p for p in collector.pollers if p.device.id == "p1-inv")
        try:
            assert await asyncio.wait_for(inv._poll_slot(), 10) == 0  # while the sink holds it
            assert inv.state.polls == 0 and inv.state.failures == 0
            gate.set()
            await wait_until(lambda: inv.state.failures == 1, 10, "the refusal told")
            assert inv.state.polls == 0 and "refused by the sink" in (inv.state.last_error or "")
            refuse = False
            await asyncio.wait_for(inv._poll_slot(), 10)
            await wait_until(lambda: inv.state.polls == 1, 10, "the kept reading told")
            assert inv.state.consecutive_failures == 0 and inv.state.last_error is None
        finally:
            gate.set()
            await asyncio.wait_for(collector.stop(), 10)
