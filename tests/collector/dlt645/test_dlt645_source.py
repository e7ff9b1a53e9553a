"""The DL/T 645 source against the simulator's meters over real TCP: what a poll stores, how
faults and refusals are met, and that the bus sees one transaction at a time.

The physics is stepped by hand (``at``) so each test knows the simulated instant; the
collector's pollers read over loopback as they would in production, and their readings pass
the real pipeline (the counter guard) into a list.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import pytest

from collector.errors import DeviceTimeout, SourceError
from collector.reading import Quality, Reading
from collector.runner import Collector
from collector.sinks.base import CallbackSink
from collector.sources.dlt645.source import Dlt645Poller, Dlt645Source
from simulator.fleet import Fleet
from tests.simulator.dlt645_rig import dlt645_config
from timebase.clock import Clock

MIN_NS = 60 * 10**9
A1, A2 = "000012345678", "000087654321"
METERS = [{"id": "gk-1", "address": A1, "export_is": "reverse", "ct_ratio": 20, "pt_ratio": 1},
          {"id": "gk-2", "address": A2, "export_is": "forward"}]


@dataclass
class Rig:
    fleet: Fleet
    collector: Collector
    delivered: list[Reading]

    @property
    def source(self) -> Dlt645Source:
        return next(s for s in self.collector.sources if isinstance(s, Dlt645Source))

    def poller(self, meter: str) -> Dlt645Poller:
        return next(p for p in self.source.pollers if p.device.id == meter)  # type: ignore

    def at(self, minutes: float) -> None:
        t = self.fleet.clock.sim_start_ns + int(minutes * MIN_NS)
        self.fleet.step(t)
        for p in self.source.pollers:  # stamped with the stepped instant
            p.clock = Clock(t, 1.0, time.time())

    async def poll(self, meter: str) -> Reading:
        """One scheduled poll's worth: read, then the pipeline (counter guard), as delivered."""
        before = len(self.delivered)
        skip = await self.poller(meter).poll_once()
        assert skip == 0, self.poller(meter).state.last_error
        assert len(self.delivered) == before + 1
        return self.delivered[-1]


@asynccontextmanager
async def rig(meters: list[dict[str, Any]] = METERS, **kw: Any) -> AsyncIterator[Rig]:
    # the plant's inverters feed the meters' physics; nobody polls them here
    cfg = dlt645_config(meters, gateway={"baud": 9600, "timeout_s": 0.5, **kw.pop("gw", {})},
                        modbus=[{"id": "inv", "profile": "sunspec-inverter"}], **kw)
    clock = Clock.starting(cfg.simulator.start, 1.0)
    fleet = Fleet(cfg, clock)
    delivered: list[Reading] = []

    async def keep(readings: Sequence[Reading]) -> None:
        delivered.extend(readings)

    collector = Collector(cfg, [CallbackSink(keep)], clock)
    await fleet.dlt645.start()
    try:
        r = Rig(fleet, collector, delivered)
        r.at(0)
        yield r
    finally:
        await asyncio.wait_for(collector.stop(), 20)
        await asyncio.wait_for(fleet.dlt645.stop(), 10)


async def test_a_poll_stores_primary_export_positive_values() -> None:
    async with rig() as r:
        r.at(30)
        truth = r.fleet.ground_truth()
        one = await r.poll("gk-1")
        assert one.kind == "meter" and one.plant == "p1"
        # reverse energy is the export; the meter counts the CT's secondary: x 20 back
        assert one.fields["e_export_kwh"] == pytest.approx(truth["gk-1"]["e_export_kwh"],
                                                           abs=20 * 0.01)
        assert one.fields["e_import_kwh"] == pytest.approx(truth["gk-1"]["e_import_kwh"],
                                                           abs=20 * 0.01)
        tariffs = sum(one.fields[f"e_export_t{n}_kwh"] or 0 for n in range(1, 5))
        assert tariffs == pytest.approx(one.fields["e_export_kwh"], abs=20 * 0.05)
        # export is positive power in pvrelief, negative on a meter that counts it as reverse
        assert one.fields["p_w"] == pytest.approx(truth["gk-1"]["p_w"], abs=20 * 0.1)
        assert one.fields["p_w"] > 0 and (one.fields["i_l1_a"] or 0) > 0
        assert one.fields["v_l1_v"] == pytest.approx(229.7)
        assert one.fields["f_hz"] == 50.0
        assert abs(one.fields["clock_offset_s"] or 99) < 2  # its clock is the simulator's
        assert one.counters["e_export_kwh"] == "lifetime"
        assert one.wrap_at["e_export_kwh"] == pytest.approx(20 * 1_000_000)
        two = await r.poll("gk-2")  # installed the other way round: forward is export
        assert two.fields["e_export_kwh"] == pytest.approx(truth["gk-2"]["e_export_kwh"],
                                                           abs=0.01)
        assert two.fields["p_w"] == pytest.approx(truth["gk-2"]["p_w"], abs=0.1)
        assert r.source.links["rs485"].transactions == 18  # the catalog's 9 reads each


async def test_counter_reset_is_caught_by_the_counter_guard() -> None:
    faults = [{"device": "gk-2", "kind": "counter_reset", "from": 600, "until": 900}]
    async with rig(faults=faults) as r:
        good = await r.poll("gk-2")
        r.at(11)
        bad = await r.poll("gk-2")
        assert bad.fields["e_export_kwh"] is None
        assert bad.quality_of("e_export_kwh") is Quality.INVALID
        assert [e.kind for e in r.collector.counters.events_of("gk-2")] == ["reset"]
        r.at(16)
        again = await r.poll("gk-2")
        assert (again.good("e_export_kwh") or 0) > (good.good("e_export_kwh") or 0)


async def test_silence_fails_the_poll_and_backs_off_while_the_neighbour_reads() -> None:
    async with rig(faults=[{"device": "gk-1", "kind": "no_answer"}]) as r:
        with pytest.raises(DeviceTimeout, match="meter 000012345678 at gateway rs485"):
            await r.poller("gk-1").read()
        skips = [await r.poller("gk-1").poll_once() for _ in range(3)]
        assert skips == [0, 1, 3]  # polled at slots 1, 2, 4, 8: backoff
        assert r.poller("gk-1").state.consecutive_failures == 3
        assert (await r.poll("gk-2")).good("e_export_kwh") is not None


async def test_a_garbled_answer_is_asked_again_once() -> None:
    async with rig(faults=[{"device": "gk-1", "kind": "bad_checksum"}]) as r:
        with pytest.raises(SourceError, match="checksum"):
            await r.poller("gk-1").read()
        assert r.source.links["rs485"].retries == 1  # the first read, asked twice, then given up


async def test_error_replies_fail_the_poll_with_their_meaning() -> None:
    async with rig(faults=[{"device": "gk-1", "kind": "error_reply", "code": 4}]) as r:
        with pytest.raises(SourceError, match=r"answered every read with an error.*unauthorised"):
            await r.poller("gk-1").read()


async def test_a_meter_without_block_reads_is_read_member_by_member() -> None:
    async with rig() as r:
        r.fleet.dlt645.meters["gk-2"].reads_blocks = False
        blocks = await r.poll("gk-2")
        plan = [d.ident.text for d in r.poller("gk-2").plan]
        assert "00 01 FF 00" not in plan and "00 01 00 00" in plan and "00 01 04 00" in plan
        assert blocks.fields["e_export_kwh"] is not None
        assert blocks.fields["e_export_t4_kwh"] is not None and blocks.fields["p_l3_w"] is not None


async def test_long_answers_in_follow_up_frames_read_the_same() -> None:
    async with rig() as r:
        whole = await r.poll("gk-2")
        r.fleet.dlt645.meters["gk-2"].max_reply_data = 10
        split = await r.poll("gk-2")
        assert split.fields == whole.fields | {"clock_offset_s": split.fields["clock_offset_s"]}


async def test_identifiers_a_meter_lacks_are_left_out_and_the_rest_stored() -> None:
    meters = [{**METERS[1], "identifiers": ["00 01 00 00", "02 80 00 07"]}]
    async with rig(meters) as r:
        r.fleet.dlt645.meters["gk-2"].lacks = {0x02800007}  # a meter without a thermometer
        reading = await r.poll("gk-2")
        assert set(reading.fields) == {"e_export_kwh"}
        assert "no requested data" in r.poller("gk-2").refused[0x02800007]
        r.fleet.dlt645.meters["gk-2"].lacks = {0x00010000, 0x02800007}
        with pytest.raises(SourceError, match="answered every read with an error"):
            await r.poller("gk-2").read()


async def test_meters_on_one_bus_take_turns() -> None:
    async with rig() as r:
        gw = r.fleet.dlt645.gateways[0]
        both = await asyncio.gather(r.poller("gk-1").read(), r.poller("gk-2").read())
        assert all(x.fields["e_export_kwh"] for x in both)
        assert gw.collisions == 0 and gw.requests == 18


async def test_echoed_requests_and_late_answers_are_skipped() -> None:
    faults = [{"device": "gk-1", "kind": "slow_answer", "delay_s": 0.8}]
    async with rig(faults=faults) as r:
        gw = r.fleet.dlt645.gateways[0]
        gw.echo = True
        link = r.source.links["rs485"]
        assert (await r.poll("gk-2")).good("e_export_kwh") is not None
        assert link.skipped == 9  # every request came back as an echo first
        with pytest.raises(DeviceTimeout):
            await r.poller("gk-1").read()
        answers = gw.answers
        deadline = time.monotonic() + 5
        while gw.answers == answers and time.monotonic() < deadline:
            await asyncio.sleep(0.02)  # gk-1's answer comes after the collector gave up
        assert gw.answers == answers + 1
        assert (await r.poll("gk-2")).good("e_export_kwh") is not None
        # gk-1's echoed request, then its late answer, then gk-2's echoes again
        assert link.skipped == 9 + 1 + 1 + 9


async def test_a_date_and_time_read_across_the_meters_midnight_read_the_date_again() -> None:
    meters = [{**METERS[1], "identifiers": ["00 01 00 00", "04 00 01 01", "04 00 01 02"]}]
    async with rig(meters) as r:
        r.at(12 * 60 + 59 + 59 / 60)  # 23:59:59 local (the rig starts at 11:00)
        m = r.fleet.dlt645.meters["gk-2"]
        served = m.value_bytes

        def midnight_between(ident):  # type: ignore[no-untyped-def]
            out = served(ident)
            if ident.di == 0x04000101:
                m.now_ns += 2 * 10**9  # the meter's midnight passes before the time is read
            return out

        m.value_bytes = midnight_between  # type: ignore[method-assign]
        before = r.source.links["rs485"].transactions
        reading = await r.poll("gk-2")
        assert r.source.links["rs485"].transactions == before + 4  # the date once more
        assert abs(reading.fields["clock_offset_s"] or 1e9) < 5  # not a day behind
        m.value_bytes = served  # type: ignore[method-assign]
        r.at(13 * 60 + 30)  # 00:30: far from midnight, no extra read
        before = r.source.links["rs485"].transactions
        await r.poll("gk-2")
        assert r.source.links["rs485"].transactions == before + 3
