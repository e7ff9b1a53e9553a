"""End to end: a mixed fleet behind one gateway with 10 unit ids, one dead, into real InfluxDB.

SunSpec, Huawei SUN2000, Sungrow SG and CHINT DTSU666 devices share one gateway, as they do
behind a SmartLogger or an RS485 converter. The physics is held still during the run (one
step at start, the next an hour later), so every stored field can be compared exactly, to the
register's resolution, with what the simulator put in its registers.

The dead unit answers for the first slots and is then silenced: the live units keep every slot
and every poll answers. How late it makes them is measured in bench/gateway.py.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from collector.reading import Reading
from collector.runner import Collector
from collector.sinks.base import CallbackSink
from collector.sinks.influx import InfluxSink
from config.profiles import Point, load_registry
from localsite.servers import InfluxServer
from simulator.devices import SimDevice
from simulator.fleet import Fleet
from tests.simulator.gateway_fleet import bounded, gateway_config, wait_until
from timebase.clock import Clock

POLL_S = 60.0
SPEED = 60.0  # a poll interval is one real second
WRITE_CODES = (5, 6, 15, 16, 22, 23)
FLEET = [  # (id, unit, profile)
    ("ss-1", 1, "sunspec-inverter"),
    ("ss-2", 2, "sunspec-inverter"),  # dead
    ("hw-1", 3, "huawei-sun2000"),
    ("hw-2", 4, "huawei-sun2000"),
    ("sg-1", 5, "sungrow-sg"),
    ("sg-2", 6, "sungrow-sg"),
    ("ss-3", 7, "sunspec-inverter"),
    ("hw-3", 8, "huawei-sun2000"),
    ("dtsu", 9, "chint-dtsu666"),
    ("ss-meter", 10, "sunspec-meter"),
]
DEAD = "ss-2"
BASELINE_POLLS = 7  # every unit answering
DEAD_POLLS = 12  # after DEAD fell silent


def _resolution(dev: SimDevice, p: Point | None) -> float:
    """The smallest step the register can show, in the field's unit."""
    assert p is not None
    if p.type == "float32":
        return 0.0
    step = p.scale * p.factor
    if p.sf:
        sfp = dev.profile.by_name[p.sf]
        words = dev.image.read(sfp.table, sfp.address, 1)
        assert words is not None
        sf = words[0] - 0x10000 if words[0] & 0x8000 else words[0]
        step *= 10.0**sf
    return abs(step)


def _close(stored: float, truth: float, resolution: float) -> bool:
    return math.isclose(stored, truth, rel_tol=1e-6, abs_tol=resolution * 0.51 + 1e-9)


async def test_mixed_fleet_behind_one_gateway_with_a_dead_unit(
    influxdb: InfluxServer, influx_db: str
) -> None:
    registry = load_registry()
    assert {p for _, _, p in FLEET} <= set(registry), sorted(registry)
    devices = [{"id": i, "unit_id": u, "profile": p, "poll_interval_s": POLL_S}
               for i, u, p in FLEET]
    # 0.4 s: far above a live answer's time on a loaded machine, yet a dead unit asked every
    # slot without backoff or priority would add 40% of the interval
    cfg = gateway_config(
        devices, speed=SPEED, timeout_s=0.4, capacity_kw_ac=700,
        simulator={"tick_s": 3600},  # hold the physics still: exact comparison
        influx={"url": influxdb.url, "database": influx_db, "linger_s": 0.2},
    )
    clock = Clock.starting(cfg.simulator.start, cfg.simulator.speed)
    fleet = Fleet(cfg, clock, registry)
    sink = InfluxSink(cfg.influxdb)
    delivered: list[Reading] = []

    async def deliver(readings: Sequence[Reading]) -> None:
        delivered.extend(readings)
        await sink.put(readings)

    collector = Collector(cfg, [CallbackSink(deliver)], clock, registry)
    live = [p for p in collector.pollers if p.device.id != DEAD]
    await fleet.start()
    try:
        await sink.start()
        await collector.start()
        try:
            await wait_until(lambda: all(p.state.polls >= BASELINE_POLLS for p in live), 45,
                             f"{BASELINE_POLLS} polls of every device")
            # silenced by hand: the physics is held still, so a fault window would not open
            fleet.behaviour[DEAD].dead = True
            died_ns = clock.now_ns()
            await wait_until(lambda: all(p.state.polls >= BASELINE_POLLS + DEAD_POLLS
                                         for p in live), 45,
                             f"{DEAD_POLLS} more polls of every live device")
        finally:
            await bounded(collector.stop(), 20, "collector.stop()")
            await bounded(sink.close(), 30, "sink.close()")
        # what the registers held while we polled (stopping the fleet steps its physics)
        truth = {d: (dict(dev.published), {n: _resolution(dev, dev.image.point_for_field(n))
                                           for n in dev.published})
                 for d, dev in fleet.devices.items()}
    finally:
        await bounded(fleet.stop(), 20, "fleet.stop()")

    # the dead unit: polled with backoff, nothing stored once it fell silent
    dead = next(p for p in collector.pollers if p.device.id == DEAD)
    assert dead.state.failures >= 2 and dead.state.skipped_slots >= 1
    assert not influxdb.query(f"SELECT * FROM inverter WHERE device = '{DEAD}' "
                              f"AND time > {died_ns + int(POLL_S * 1e9)}", influx_db)
    events = collector.counters.event_counts
    assert all(p.state.failures == 0 and p.state.skipped_slots == 0
               and events.get(p.device.id, 0) == 0 for p in live), [
        (p.device.id, p.state.failures, p.state.skipped_slots, events.get(p.device.id, 0))
        for p in live]
    # read only: not one write function code reached the simulator
    codes = fleet.function_codes()
    assert not any(codes.get(c) for c in WRITE_CODES), codes
    assert set(codes) <= {3, 4}, codes

    for p in live:
        dev = fleet.devices[p.device.id]
        kind = registry[p.device.profile].kind
        rows = influxdb.query(f"SELECT * FROM {kind} WHERE device = '{dev.id}'", influx_db)
        assert rows, f"nothing stored for {dev.id}"
        cols, values = rows[0]["columns"], rows[0]["values"]
        assert len(values) >= 7
        last = dict(zip(cols, values[-1], strict=True))
        checked = 0
        published, resolution = truth[dev.id]
        for name, value in published.items():
            if name not in p.decoder.fields:
                continue  # served, but not a field this profile polls
            stored = last.get(name)
            assert stored is not None, (dev.id, name, last)
            assert _close(stored, value, resolution[name]), (dev.id, name, stored, value)
            checked += 1
        assert checked >= 8, (dev.id, checked)
        if kind == "inverter":
            assert last["status"] == "running", (dev.id, last["status"])
