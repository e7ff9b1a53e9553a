"""The demo's faults raise their alarms and clear them, and the report shows them with the
day's KPIs: the example site's village plants from 09:45 to 16:00 local, at the demo's 1440x.

The central plant's 40 inverters stay out: behind their one gateway they take longer to poll
than 300 simulated seconds (0.2 s real) last on a loaded 2-core machine, and an inverter read
every other interval is rightly reported silent; the demo shows that when it happens.
"""

from __future__ import annotations

import asyncio
from datetime import date, datetime
from pathlib import Path

from pydantic import HttpUrl
from rich.console import Console

from collector.alarms.demo import add_demo_faults, report
from collector.alarms.model import State
from collector.alarms.store import AlarmStore
from config.loader import load_config
from localsite.demo import use_free_ports
from localsite.servers import InfluxServer
from tests.collector.alarms.rig import run

EXAMPLE = Path(__file__).resolve().parents[3] / "config" / "examples" / "gonghe.yaml"
SIX_HOURS = 6 * 3600 + 15 * 60


async def test_the_demo_faults_are_raised_cleared_and_reported(
        tmp_path: Path, influxdb: InfluxServer, influx_db: str) -> None:
    cfg = load_config(EXAMPLE)
    cfg.counties[0].plants = []  # the central plant
    use_free_ports(cfg)
    cfg.influxdb.url = HttpUrl(influxdb.url)
    cfg.influxdb.database = influx_db
    cfg.influxdb.spool_dir = tmp_path / "spool"
    cfg.simulator.start = datetime.fromisoformat("2020-06-21T09:45:00+08:00")
    added = add_demo_faults(cfg)
    assert added == ["va-inv-01 (village-a): fault_code 10:00-10:40",
                     "va-inv-02 (village-a): no_answer 12:00-13:00",
                     "va-inv-03 (village-a): string_loss 14:00-15:30"]
    await run(cfg, lambda c, sim_s: sim_s > SIX_HOURS, timeout_s=120)

    store = AlarmStore(cfg.state_path, create=False)
    got = {(a.device, a.definition.id): a for a in store.query()}
    for key in (("va-inv-01", "code-1004"), ("va-inv-02", "comm-loss"),
                ("va-inv-03", "string-2-low")):
        assert key in got, f"{key} not raised; got {sorted(got)}"
        assert got[key].state in (State.CLEARED, State.CLOSED), key
    faulted = {"va-inv-01", "va-inv-02", "va-inv-03"}
    assert {d for d, _ in got} <= faulted  # nothing else anywhere on the site

    console = Console(record=True, width=200)
    # the demo calls it outside its event loop (it writes the KPI points with asyncio.run)
    await asyncio.to_thread(report, cfg, console, date(2020, 6, 21), None)
    text = console.export_text()
    assert "电网断开 (code-1004)" in text and "通信中断 (comm-loss)" in text
    assert "第2路组串电流偏低 (string-2-low)" in text
    for plant in ("village-a", "village-b"):
        assert plant in text
    assert "kpi points written" in text
    assert "No other alarm anywhere on the site." in text
