"""A simulated week with inverters that sleep at night: no alarm storm at dusk or dawn."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from collector.reading import Reading
from collector.sinks.base import CallbackSink
from tests.collector.alarms.rig import plant_config, run

WEEK_S = 7 * 86_400


@pytest.mark.slow
async def test_a_week_of_sunsets_and_sunrises_raises_nothing(tmp_path: Path) -> None:
    # 15-minute polls at 8000x: a week in about 80 s; the alarm settings are the defaults
    cfg = plant_config(tmp_path, None, "unused", interval_s=900, speed=8000, timeout_s=0.02,
                       sleep=True, start="2020-06-21T00:00:00+08:00")
    alarms: list[Reading] = []
    readings = 0

    async def keep(batch: Sequence[Reading]) -> None:
        nonlocal readings
        readings += len(batch)
        alarms.extend(r for r in batch if r.kind == "alarm")

    collector = await run(cfg, lambda c, sim_s: sim_s > WEEK_S, sinks=[CallbackSink(keep)],
                          timeout_s=300)
    inverters = [p for p in collector.pollers if p.device.id.startswith("inv")]
    assert all(p.state.night_polls >= 7 for p in inverters), "the inverters never slept"
    assert all(p.state.polls >= 7 * 50 for p in inverters)  # and answered by day
    assert readings > 7 * 4 * 50
    # nothing that depends on the sun: no communication loss, no performance alarm. (At 8000x
    # a physics step is 160 simulated seconds, and the counter guard may refuse a counter read
    # just after one as a jump, rightly raising a data-quality alarm: not what this is about.)
    sunny = [(r.device, r.tags["alarm"], r.text["state"]) for r in alarms
             if r.tags["kind"] != "data_quality"]
    assert sunny == []
    assert not [r for r in alarms if r.tags["alarm"].startswith("stuck-")]
