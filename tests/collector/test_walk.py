"""The devices behind one gateway are walked by one task: in due order, failing ones after the
healthy ones due at the same instant, catching up after a stall instead of bursting, and never
ended by one device's trouble."""

from __future__ import annotations

import logging
import time

import pytest

from collector.runner import Collector
from collector.sources.modbus.source import modbus_source
from tests.collector.test_gateway import run_until
from tests.simulator.gateway_fleet import gateway_config, inverters

POLL_S = 60.0  # at 60x: one real second


async def test_one_task_per_gateway_polls_the_healthy_first_and_the_dead_unit_last() -> None:
    # every device due at the same instant (no jitter); the dead unit is listed first, so due
    # order alone would poll it first; asked every slot (backoff capped at one interval)
    devices = inverters(4, poll_s=POLL_S)
    cfg = gateway_config(devices, timeout_s=0.4,
                         collector={"jitter_s": 0, "max_backoff_s": POLL_S},
                         faults=[{"device": "inv-01", "kind": "no_answer"}])
    order: list[tuple[str, bool]] = []
    _, collector, _ = await run_until(
        cfg, lambda c: min(p.state.polls for p in c.pollers[1:]) >= 5,
        on_poll=lambda device, ok, latency, ts: order.append((device, ok)))

    source = modbus_source(collector)
    assert len(source.walks) == 1 and len(source._tasks) == 1  # one gateway, one task
    assert source.walks[0].name.startswith("gateway gw1")
    dead_at = [i for i, (d, _) in enumerate(order) if d == "inv-01"]
    assert len(dead_at) >= 4 and not any(ok for d, ok in order if d == "inv-01")
    # once it had failed, every slot's three live polls went before the dead unit's
    for i in dead_at[1:]:
        assert {d for d, _ in order[i - 3 : i]} == {"inv-02", "inv-03", "inv-04"}, order
    assert all(p.state.failures == 0 and p.state.skipped_slots == 0
               for p in collector.pollers[1:])


async def test_a_stalled_loop_is_caught_up_by_skipping_slots_not_by_a_burst() -> None:
    cfg = gateway_config(inverters(3, poll_s=POLL_S), collector={"jitter_s": 0})
    stalled = False

    def stall_once(c: Collector) -> bool:
        nonlocal stalled
        if not stalled and all(p.state.polls >= 2 for p in c.pollers):
            stalled = True
            time.sleep(3.5)  # the whole loop blocked for three and a half intervals
        return stalled and all(p.state.polls >= 5 for p in c.pollers)

    _, collector, got = await run_until(cfg, stall_once)
    for p in collector.pollers:
        assert p.state.failures == 0 and p.state.skipped_slots >= 2, p.state
        ts = sorted(r.ts_ns for r in got if r.device == p.device.id)
        # the missed slots are skipped, not polled back to back: the late slot and the next
        # one on time may fall close together (the stall can end just before a slot), but
        # never three polls within one interval
        spans = [(c - a) / 1e9 for a, c in zip(ts, ts[2:], strict=False)]
        assert min(spans) >= 0.99 * POLL_S, (p.device.id, spans)


async def test_a_bug_in_one_slot_neither_ends_the_walk_nor_the_device(
    caplog: pytest.LogCaptureFixture,
) -> None:
    cfg = gateway_config(inverters(2, poll_s=POLL_S), collector={"jitter_s": 0})
    broken: list[str] = []  # the slots that hit the bug

    def break_three_slots(c: Collector) -> bool:
        p = c.pollers[0]
        if "poll_due" not in vars(p):  # not yet broken
            real = p.poll_due

            async def raising(due_wall: float) -> int:
                broken.append(p.device.id)
                if len(broken) == 3:
                    p.poll_due = real
                raise RuntimeError("slot bookkeeping bug")

            p.poll_due = raising
        return all(p.state.polls >= 4 for p in c.pollers)

    caplog.set_level(logging.ERROR)
    _, collector, _ = await run_until(cfg, break_three_slots)
    assert broken == ["inv-01"] * 3
    # logged once, not once a slot
    assert caplog.text.count("inv-01: a slot failed unexpectedly: RuntimeError('slot "
                             "bookkeeping bug')") == 1
    # the walk went on (both devices polled four times after it), and the bug was no poll's
    assert all(p.state.failures == 0 for p in collector.pollers)
