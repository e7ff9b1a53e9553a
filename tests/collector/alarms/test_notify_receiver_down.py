"""A notification receiver that is down: the pipeline keeps its rate, and the notification
arrives once the receiver is back, also across a collector restart."""

from __future__ import annotations

import asyncio
from pathlib import Path

from collector.alarms.stage import AlarmStage
from collector.pipeline.stages import Pipeline
from collector.runner import Collector
from collector.sinks.base import CallbackSink
from config.profiles import load_registry
from localsite.servers import InfluxServer, free_port
from tests.collector.alarms.helpers import NOON, config, inverter
from tests.collector.alarms.receiver import Receiver
from tests.collector.alarms.rig import plant_config, run
from timebase.clock import Clock

SECRET = "SEC0011223344556677"
INTERVAL = 60
FAULT_AT = 600


def _notify(port: int) -> dict[str, object]:
    return {"channels": [{"id": "ops", "type": "dingtalk", "secret": {"value": SECRET},
                          "url": {"value": f"http://127.0.0.1:{port}/robot/send"
                                           "?access_token=T"}}],
            "rules": [{"channels": ["ops"], "severities": ["major"]}],
            "digest_wait_s": 0.2, "retry_initial_s": 0.2, "retry_max_s": 1.0, "timeout_s": 1.0}


async def test_polling_keeps_its_rate_while_the_receiver_is_down_and_it_arrives_later(
        tmp_path: Path, influxdb: InfluxServer, influx_db: str) -> None:
    port = free_port()
    cfg = plant_config(tmp_path, influxdb, influx_db, alarms={"notify": _notify(port)},
                       faults=[{"device": "inv-01", "kind": "fault_code", "code": 2064,
                                "from": FAULT_AT}])
    receiver = Receiver(port, secret=SECRET)
    tried_while_down: list[int] = []

    async def until(collector: Collector, sim_s: int) -> bool:
        dispatcher = collector.alarms.dispatcher
        assert dispatcher is not None
        if sim_s > FAULT_AT + 10 * INTERVAL and not tried_while_down:
            tried_while_down.append(dispatcher.failures["ops"])  # ten intervals down
            await receiver.start()
        return bool(receiver.received)

    try:
        collector = await run(cfg, until, timeout_s=90)
    finally:
        await receiver.stop()
    assert tried_while_down[0] >= 3, "the receiver was hardly tried while it was down"
    for p in collector.pollers:  # nothing waited on the receiver: every slot was polled
        assert p.state.failures == 0 and p.state.skipped_slots == 0, p.device.id
    (got,) = receiver.received
    assert receiver.refused == 0  # signed as DingTalk checks it
    assert got.body["markdown"]["title"] == "[重要] 设备异常 产生: inv-01"


async def test_an_unsent_notification_waits_in_the_outbox_across_a_restart(
        tmp_path: Path) -> None:
    port = free_port()
    cfg = config({"notify": _notify(port)}, state_dir=str(tmp_path / "state"))
    clock = Clock.real()

    async def nowhere(readings: object) -> None:
        return None

    def stage_and_pipeline() -> tuple[AlarmStage, Pipeline]:
        stage = AlarmStage(cfg, load_registry())
        return stage, Pipeline([stage], [CallbackSink(nowhere)])

    stage, pipeline = stage_and_pipeline()
    await stage.start(pipeline, clock)
    await pipeline.put([inverter("inv-01", NOON, faults=(2064,))])
    await stage.flush()
    assert stage.dispatcher is not None and stage.dispatcher.pending == 1
    await stage.stop()  # nothing answered

    async with Receiver(port, secret=SECRET) as rx:
        stage, pipeline = stage_and_pipeline()
        await stage.start(pipeline, clock)
        try:
            for _ in range(200):
                if rx.received:
                    break
                await asyncio.sleep(0.05)
        finally:
            await stage.stop()
    (got,) = rx.received
    assert got.body["markdown"]["title"] == "[重要] 设备异常 产生: inv-01"
