"""Daily counters served by the simulator reset at the plant's local midnight, not UTC's."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from simulator.devices import SimInverter
from tests.simulator.gateway_fleet import gateway_config, inverters
from tests.simulator.rig import rig

SHANGHAI = ZoneInfo("Asia/Shanghai")


async def test_e_day_kwh_falls_only_at_local_midnight() -> None:
    # from 07:00 local to 01:00 the next day: UTC midnight (08:00 local) lies inside, as
    # does local midnight (16:00 UTC)
    cfg = gateway_config(inverters(1, profile="huawei-sun2000"),
                         start="2020-06-21T07:00:00+08:00")
    async with rig(cfg) as r:
        t0 = datetime.fromtimestamp(r.t0 / 1e9, UTC)
        series: list[tuple[datetime, float]] = []
        for minutes in range(0, 18 * 60 + 1, 10):
            r.at(minutes)
            e_day = (await r.read("inv-01")).good("e_day_kwh")
            assert e_day is not None
            series.append(((t0 + timedelta(minutes=minutes)).astimezone(SHANGHAI), e_day))
    falls = [(a[0], b[0]) for a, b in itertools.pairwise(series) if b[1] < a[1]]
    assert [(a.strftime("%H:%M"), b.strftime("%d %H:%M")) for a, b in falls] == [
        ("23:50", "22 00:00")], falls
    by_time = dict(series)
    assert by_time[datetime(2020, 6, 21, 8, 10, tzinfo=SHANGHAI)] > 0  # went on past 08:00
    assert by_time[datetime(2020, 6, 21, 23, 50, tzinfo=SHANGHAI)] > 100  # a whole day's yield
    assert by_time[datetime(2020, 6, 22, 0, 0, tzinfo=SHANGHAI)] == 0.0


async def test_a_run_started_at_noon_has_the_morning_in_its_daily_counters() -> None:
    """Started at 11:00, an inverter's daily yield, peak and start-up time are what a run
    from midnight shows at 11:00 (the catch-up uses the same physics, minute by minute)."""
    from_midnight = gateway_config(inverters(1, profile="huawei-sun2000"),
                                   start="2020-06-21T00:00:00+08:00")
    at_eleven = gateway_config(inverters(1, profile="huawei-sun2000"),
                               start="2020-06-21T11:00:00+08:00")
    async with rig(from_midnight) as r:
        for minute in range(0, 11 * 60 + 1):
            r.at(minute)
        whole_morning = r.fleet.devices["inv-01"]
    async with rig(at_eleven) as r:
        r.at(0)
        caught_up = r.fleet.devices["inv-01"]
        e_day = (await r.read("inv-01")).good("e_day_kwh")
    assert isinstance(whole_morning, SimInverter) and isinstance(caught_up, SimInverter)
    assert whole_morning.e_day_wh > 100_000  # a real morning's yield: over 100 kWh
    assert caught_up.e_day_wh == pytest.approx(whole_morning.e_day_wh, rel=0.01)
    assert e_day == pytest.approx(caught_up.e_day_wh / 1000, abs=0.01)
    assert caught_up.p_peak_day_w == pytest.approx(whole_morning.p_peak_day_w, rel=0.01)
    assert caught_up.startup_ns == whole_morning.startup_ns
