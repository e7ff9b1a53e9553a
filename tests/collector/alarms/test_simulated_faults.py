"""Each fault the simulator injects raises the right alarm within two poll intervals, and the
alarm clears after the fault ends; the transitions reach InfluxDB through the normal sink."""

from __future__ import annotations

from pathlib import Path

from collector.alarms.model import State
from collector.alarms.store import AlarmStore
from localsite.servers import InfluxServer
from tests.collector.alarms.rig import plant_config, run, transitions

INTERVAL = 60
F, E = 630, 1230  # the faults' window, seconds after the start: both between two polls
TICK = 5  # the simulator's physics step: a stuck register freezes at the next one
FAULTS = [
    {"device": "inv-01", "kind": "fault_code", "code": 2064, "from": F, "until": E},
    {"device": "inv-02", "kind": "no_answer", "from": F, "until": E},
    {"device": "inv-03", "kind": "string_loss", "string": 2, "loss": 0.5, "from": F,
     "until": E},
    {"device": "inv-04", "kind": "exception", "code": 11, "from": F, "until": E},
    {"device": "meter", "kind": "stuck_value", "field": "p_w", "from": F, "until": E},
    {"device": "meter", "kind": "counter_reset", "from": F, "until": E},
]
EXPECTED = {("inv-01", "code-2064"), ("inv-02", "comm-loss"), ("inv-03", "string-2-low"),
            ("inv-04", "comm-loss"), ("meter", "stuck-p_w"), ("meter", "counter-e_export_kwh")}
# how long each condition must last before it is an alarm; the defaults are longer (README)
ALARMS = {"hold_s": 60, "close_after_s": 3600, "comm_loss": {"missed_polls": 1},
          "performance": {"strings": {"for_s": 0}}, "data_quality": {"stuck": {"for_s": 30}}}


async def test_every_fault_kind_raises_its_alarm_in_time_and_clears_after(
        tmp_path: Path, influxdb: InfluxServer, influx_db: str) -> None:
    cfg = plant_config(tmp_path, influxdb, influx_db, faults=FAULTS, alarms=ALARMS,
                       inverters=4, interval_s=INTERVAL)
    start_ns = int(cfg.simulator.start.timestamp()) * 10**9  # type: ignore[union-attr]
    first_reading: list[int] = []

    def done(collector: object, sim_s: int) -> bool:
        polls = [p.state.last_good_ns for p in collector.pollers]  # type: ignore[attr-defined]
        if not first_reading and all(polls):
            first_reading.append(max(p for p in polls if p))
        return sim_s > E + 4 * INTERVAL

    collector = await run(cfg, done)
    assert first_reading and first_reading[0] < start_ns + F * 10**9, \
        "set-up took longer than the faults' lead: nothing was read before they began"

    got = transitions(influxdb, influx_db)
    raised = {(d, a): t for d, a, s, t in got if s == "raised"}
    assert set(raised) == EXPECTED
    for key, t in raised.items():
        after_s = (t - start_ns) / 1e9 - F
        assert 0 <= after_s <= 2 * INTERVAL + TICK, f"{key} raised {after_s:.0f} s after"
    cleared = {(d, a): t for d, a, s, t in got if s == "cleared"}
    assert set(cleared) == EXPECTED
    for key, t in cleared.items():
        after_s = (t - start_ns) / 1e9 - E
        assert 0 <= after_s <= 2 * INTERVAL, f"{key} cleared {after_s:.0f} s after the end"
    # nothing raised twice, nothing for the healthy parts
    assert sum(1 for _, _, s, _ in got if s == "raised") == len(EXPECTED)

    store = AlarmStore(cfg.state_path, create=False)
    states = {(a.device, a.definition.id): a.state for a in store.query()}
    assert states == dict.fromkeys(EXPECTED, State.CLEARED)
    code = next(a for a in store.query() if a.definition.id == "code-2064")
    assert (code.definition.name_zh, code.definition.severity) == ("设备异常", "major")
    assert collector.alarms.publisher is None  # stopped, and everything was published
