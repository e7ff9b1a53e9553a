"""bench/_fleet.py: the benchmark fleet serves the register images of its configured instant
(11:00 on the solstice), not of the hour the benchmark happens to run."""

from __future__ import annotations

from bench._fleet import fleet_at_start, fleet_data
from config.schema import Config
from simulator.devices import SimInverter, SimMeter


def test_every_inverter_of_the_bench_fleet_runs_at_its_configured_noon() -> None:
    cfg = Config.model_validate(fleet_data(100, 1.0))
    fleet = fleet_at_start(cfg)
    inverters = [d for d in fleet.devices.values() if isinstance(d, SimInverter)]
    meters = [d for d in fleet.devices.values() if isinstance(d, SimMeter)]
    assert len(inverters) == 98 and len(meters) == 2
    # a clear June late morning: every inverter well above a fifth of its rating, whatever
    # the wall clock says (after sunset in Gonghe these were all 0)
    assert all(d.p_ac_w > 0.2 * d.rated_kw_ac * 1000 for d in inverters), \
        sorted(d.p_ac_w for d in inverters)[:3]
