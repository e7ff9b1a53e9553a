"""Fault injection from the config, seen through the real Modbus server and the real collector.

The physics is stepped by hand (``fleet.step``) so each fault window opens and closes at a
known simulated instant; the collector's pollers read over TCP as they would in production.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from collector.errors import DeviceException, DeviceTimeout
from collector.reading import Quality
from config.schema import Config
from tests.simulator.gateway_fleet import gateway_config, inverters
from tests.simulator.rig import rig


def cfg_with(*faults: dict[str, Any], n: int = 2, **kw: Any) -> Config:
    devices = [*inverters(n), {"id": "meter", "unit_id": 100, "profile": "sunspec-meter"}]
    return gateway_config(devices, faults=list(faults), **kw)


async def test_no_answer_only_inside_its_window() -> None:
    cfg = cfg_with({"device": "inv-01", "kind": "no_answer", "from": 600, "until": 1200})
    async with rig(cfg) as r:
        assert (await r.read("inv-01")).good("p_ac_w")
        r.at(11)
        with pytest.raises(DeviceTimeout):
            await r.read("inv-01")
        assert (await r.read("inv-02")).good("p_ac_w")  # its neighbour answers meanwhile
        r.at(21)
        assert (await r.read("inv-01")).good("p_ac_w")


async def test_window_given_as_local_instants() -> None:
    cfg = cfg_with({"device": "meter", "kind": "no_answer",
                    "from": "2020-06-21T11:30:00+08:00", "until": "2020-06-21T12:00:00+08:00"})
    async with rig(cfg) as r:
        r.at(29)
        assert (await r.read("meter")).good("p_w") is not None
        r.at(31)
        with pytest.raises(DeviceTimeout):
            await r.read("meter")


async def test_slow_answer_delays_every_request() -> None:
    cfg = cfg_with({"device": "inv-01", "kind": "slow_answer", "delay_s": 0.15},
                   timeout_s=1.0)
    async with rig(cfg) as r:
        assert (await r.read("inv-02")).good("p_ac_w")
        t = time.perf_counter()
        reading = await r.read("inv-01")
        slow = time.perf_counter() - t
        reads = len(r.pollers["inv-01"].decoder.reads)
        # a lower bound only (a loaded machine is slower, never faster); the other unit's
        # answers are not delayed: the fault holds for inv-01 alone
        assert reading.good("p_ac_w") and slow >= 0.15 * reads
        assert r.fleet.behaviour["inv-01"].delay_s == 0.15
        assert r.fleet.behaviour["inv-02"].delay_s == 0.0


async def test_exception_response_carries_its_code() -> None:
    cfg = cfg_with({"device": "inv-01", "kind": "exception", "code": 4})
    async with rig(cfg) as r:
        with pytest.raises(DeviceException) as e:
            await r.read("inv-01")
        assert e.value.code == 4


async def test_device_busy_is_retried_once() -> None:
    # every other request gets exception 6: each read succeeds on its one retry
    cfg = cfg_with({"device": "inv-01", "kind": "exception", "code": 6, "every": 2})
    async with rig(cfg) as r:
        reading = await r.read("inv-01")
        endpoint = r.pollers["inv-01"].endpoint
        assert reading.good("e_total_kwh")
        assert endpoint.busy_retries == len(r.pollers["inv-01"].decoder.reads)


async def test_fault_code_raised_for_a_window() -> None:
    cfg = cfg_with({"device": "inv-02", "kind": "fault_code", "code": 1007, "from": 300,
                    "until": 900})
    async with rig(cfg) as r:
        assert (await r.read("inv-02")).status == "running"
        r.at(6)
        reading = await r.read("inv-02")
        assert reading.status == "fault" and reading.faults == (1007,)
        r.at(16)
        reading = await r.read("inv-02")
        assert reading.status == "running" and reading.faults == ()


async def test_counter_reset_is_caught_by_the_counter_guard() -> None:
    # 5 kWh, not 0: to SunSpec an acc32 of 0 means "not implemented"
    cfg = cfg_with({"device": "inv-01", "kind": "counter_reset", "value": 5, "from": 120,
                    "until": 240})
    async with rig(cfg) as r:
        poller = r.pollers["inv-01"]
        await poller.poll_once()
        good = r.delivered[-1].good("e_total_kwh")
        assert good is not None and good > 1000
        r.at(3)
        raw = await r.read("inv-01")
        assert raw.good("e_total_kwh") == 5.0
        await poller.poll_once()
        bad = r.delivered[-1]
        assert bad.quality_of("e_total_kwh") is Quality.INVALID
        assert bad.fields["e_total_kwh"] is None
        assert [e.kind for e in r.collector.counters.events_of("inv-01")] == ["reset"]
        assert r.collector.counters.event_counts["inv-01"] == 1
        r.at(5)
        await poller.poll_once()
        assert r.delivered[-1].good("e_total_kwh") >= good  # type: ignore[operator]


async def test_counter_reset_to_the_default_zero_reads_near_zero_and_recovers() -> None:
    # value defaults to 0; an acc32 cannot show 0 (SunSpec: "not implemented"), so the
    # simulator serves its smallest count, and the scale factor must not run away meanwhile
    cfg = cfg_with({"device": "inv-01", "kind": "counter_reset", "from": 120, "until": 240})
    async with rig(cfg) as r:
        poller = r.pollers["inv-01"]
        await poller.poll_once()
        good = r.delivered[-1].good("e_total_kwh")
        assert good is not None and good > 1000
        r.at(3)
        reset = (await r.read("inv-01")).good("e_total_kwh")
        assert reset is not None and 0 < reset <= 0.01
        await poller.poll_once()
        assert r.delivered[-1].quality_of("e_total_kwh") is Quality.INVALID
        assert [e.kind for e in r.collector.counters.events_of("inv-01")] == ["reset"]
        r.at(5)  # the window is over: the true count again, at its usual resolution
        back = (await r.read("inv-01")).good("e_total_kwh")
        truth = r.fleet.devices["inv-01"].e_total_wh / 1000  # type: ignore[union-attr]
        assert back is not None and good <= back == pytest.approx(truth, abs=0.001)


async def test_string_loss_takes_30_percent_of_one_string() -> None:
    cfg = cfg_with({"device": "inv-01", "kind": "string_loss", "string": 1, "from": 60})
    async with rig(cfg) as r:
        before = await r.read("inv-01")
        r.at(1)
        after = await r.read("inv-01")
        pv1, pv2 = after.good("pv1_p_w"), after.good("pv2_p_w")
        assert pv1 is not None and pv2 is not None
        assert pv1 / pv2 == pytest.approx(0.7, abs=0.01)
        assert before.good("pv1_p_w") == pytest.approx(before.good("pv2_p_w"), rel=0.01)
        dev = r.fleet.devices["inv-01"]
        assert dev.dc_factor() == pytest.approx(0.85)  # type: ignore[union-attr]


async def test_stuck_value_stops_updating_until_the_window_ends() -> None:
    cfg = cfg_with({"device": "inv-01", "kind": "stuck_value", "field": "p_ac_w",
                    "from": 600, "until": 3600})
    async with rig(cfg) as r:
        r.at(10)
        held = (await r.read("inv-01")).good("p_ac_w")
        for minutes in (20, 40):
            r.at(minutes)
            assert (await r.read("inv-01")).good("p_ac_w") == held
        truth = r.fleet.devices["inv-01"].p_ac_w  # type: ignore[union-attr]
        assert abs(truth - held) > 100  # the plant's power did move meanwhile
        assert (await r.read("inv-02")).good("p_ac_w") != held
        r.at(61)
        assert (await r.read("inv-01")).good("p_ac_w") != held


async def test_inverters_stop_answering_at_night_meters_do_not() -> None:
    cfg = cfg_with(simulator={"inverters_sleep_at_night": True})
    async with rig(cfg) as r:
        assert (await r.read("inv-01")).status == "running"
        r.at(12 * 60)  # 23:00 local
        with pytest.raises(DeviceTimeout):
            await r.read("inv-01")
        assert (await r.read("meter")).good("e_export_kwh")
        r.at(19 * 60)  # 06:00 local
        r.at(19 * 60 + 60)  # 07:00: the sun is up
        assert (await r.read("inv-01")).good("p_ac_w")


async def test_a_fault_for_an_unknown_device_is_a_config_error() -> None:
    from pydantic import ValidationError
    with pytest.raises(ValidationError, match=r"simulator.faults\[0\]: no device 'nope'"):
        cfg_with({"device": "nope", "kind": "no_answer"})
    with pytest.raises(ValidationError, match="needs code"):
        cfg_with({"device": "inv-01", "kind": "fault_code"})
    with pytest.raises(ValidationError, match="no Modbus exception code"):
        cfg_with({"device": "inv-01", "kind": "exception", "code": 9})
