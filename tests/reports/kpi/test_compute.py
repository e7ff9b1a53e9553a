"""Pieces of the KPIs: fault spans and their union, slots a sleeping inverter owes."""

from __future__ import annotations

import pandas as pd
import pvlib

from collector.alarms.builtin import Builtins
from collector.alarms.lifecycle import Lifecycle
from collector.alarms.model import Signal
from reports.kpi.collect import KpiCollector
from reports.kpi.compute import active_intervals, covered_s
from tests.collector.alarms.helpers import CATALOG, MIDNIGHT, REGISTRY, S, config


def test_overlapping_alarms_of_one_device_count_once() -> None:
    spans = [(0, 10 * S), (5 * S, 20 * S), (30 * S, 40 * S), (-10 * S, 2 * S)]
    assert covered_s(spans, 0, 35 * S) == 20 + 5


def test_a_re_raised_alarm_is_active_in_pieces_and_to_the_end_when_still_on() -> None:
    cfg = config({"hold_s": 0, "close_after_s": 10_000})
    comm = Builtins(cfg.alarms, CATALOG).comm_loss
    lc = Lifecycle(cfg.alarms)
    for on, t in ((True, 0), (False, 10), (True, 50), (False, 60), (True, 100)):
        lc.signal(Signal("p1", "inv-01", comm, on, t * S))
        lc.tick(t * S)
    spans = active_intervals(lc.drain(), 500 * S)
    assert spans == [(0, 10 * S), (50 * S, 60 * S), (100 * S, 500 * S)]


def test_a_sleeping_inverter_owes_only_the_slots_with_the_sun_up() -> None:
    cfg = config(interval_s=300)  # night mode on: the default
    kc = KpiCollector(cfg, REGISTRY, None, None, now_ns=MIDNIGHT + 2 * 86_400 * S)  # type: ignore[arg-type]
    plant = kc.plant("p1")
    slots = kc._expected_slots(plant, kc.fleet.devices["inv-01"], MIDNIGHT,
                               MIDNIGHT + 86_400 * S)
    meter = kc._expected_slots(plant, kc.fleet.devices["meter"], MIDNIGHT,
                               MIDNIGHT + 86_400 * S)
    assert len(meter) == 288
    # counted here with pvlib's own (SPA) solar position: the sun at or above 3 degrees
    times = pd.date_range(pd.Timestamp(MIDNIGHT, unit="ns", tz="UTC"), periods=288, freq="300s")
    el = pvlib.solarposition.get_solarposition(times, 36.27, 100.62)["elevation"]
    assert len(slots) == int((el >= 3.0).sum())
    assert 160 < len(slots) < 170  # about 13.8 hours of a June day in Gonghe
