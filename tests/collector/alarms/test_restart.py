"""Alarm state survives a restart: acknowledgements are kept, open alarms are not raised again."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from collector.alarms.model import State
from collector.alarms.store import AlarmStore
from localsite.servers import InfluxServer
from tests.collector.alarms.rig import START, plant_config, run, transitions

T0 = datetime.fromisoformat(START)


def _at(minutes: float) -> str:
    return (T0 + timedelta(minutes=minutes)).isoformat()


FAULTS = [{"device": "inv-01", "kind": "fault_code", "code": 2064, "from": _at(10)},
          {"device": "inv-02", "kind": "no_answer", "from": _at(10)}]
ALARMS = {"comm_loss": {"missed_polls": 1}}


async def test_an_acknowledgement_survives_a_restart_and_nothing_is_raised_twice(
        tmp_path: Path, influxdb: InfluxServer, influx_db: str) -> None:
    def both_open(collector: object, sim_s: int) -> bool:
        return len(collector.alarms.lifecycle.open) == 2  # type: ignore[attr-defined]

    cfg = plant_config(tmp_path, influxdb, influx_db, faults=FAULTS, alarms=ALARMS)
    await run(cfg, both_open)
    store = AlarmStore(cfg.state_path, create=False)
    code = next(a for a in store.query() if a.definition.id == "code-2064")
    comm = next(a for a in store.query() if a.definition.id == "comm-loss")
    # a technician takes the fault while no collector runs
    store.acknowledge(code.id, "王工", "换板子")

    # the collector comes back 20 minutes later; both faults are still there
    cfg2 = plant_config(tmp_path, influxdb, influx_db, faults=FAULTS, alarms=ALARMS,
                        start=_at(40), state_dir=cfg.state_path)
    taken: list[bool] = []

    def acked_live(collector: object, sim_s: int) -> bool:
        lc = collector.alarms.lifecycle  # type: ignore[attr-defined]
        if sim_s > 600 and not taken:  # ten minutes in: another technician takes the other
            store.acknowledge(comm.id, "李工", "去现场")
            taken.append(True)
        return taken != [] and lc.by_id[comm.id].state is State.ACKNOWLEDGED

    collector = await run(cfg2, acked_live)
    lc = collector.alarms.lifecycle
    assert {(a.id, a.state, a.acked_by) for a in lc.open.values()} == {
        (code.id, State.ACKNOWLEDGED, "王工"), (comm.id, State.ACKNOWLEDGED, "李工")}

    # in InfluxDB: one raise each (none after the restart) and both acknowledgements
    got = transitions(influxdb, influx_db)
    assert sorted((d, s) for d, _, s, _ in got) == [
        ("inv-01", "acknowledged"), ("inv-01", "raised"),
        ("inv-02", "acknowledged"), ("inv-02", "raised")]
    assert store.unpublished() == []  # both acknowledgements reached the sinks
