"""Message text: Chinese by default, one alarm as itself, many as a digest per plant."""

from __future__ import annotations

from collector.alarms.builtin import Builtins
from collector.alarms.lifecycle import Lifecycle
from collector.alarms.model import Signal, Transition
from collector.alarms.notify.messages import MAX_LINES, Renderer
from collector.alarms.notify.rules import route
from config.alarm_settings import Rule
from tests.collector.alarms.helpers import CATALOG, NOON, S, config

CFG = config()
B = Builtins(CFG.alarms, CATALOG)
NAMES = {"p1": "甲村电站", "p2": "乙村电站"}


def _raised(n: int, plant: str = "p1", start: int = 1) -> list[Transition]:
    lc = Lifecycle(CFG.alarms, next_id=start)
    for i in range(n):
        lc.signal(Signal(plant, f"inv-{i:02d}", B.comm_loss, True, NOON + i * S, None, 200.0,
                         "no good reading for 200 s"))
    return lc.drain()


def test_one_alarm_in_chinese_with_plant_time_action_and_how_to_take_it() -> None:
    (t,) = _raised(1)
    msg = Renderer("zh", NAMES, lambda p: "Asia/Shanghai").render([t])
    assert msg.title == "[重要] 通信中断 产生: inv-00"
    for part in ("甲村电站 (p1)", "2020-06-21 13:00:00", "检查设备供电", "no good reading",
                 "pvrelief alarms ack 1 --by 姓名"):
        assert part in msg.markdown, part
    assert msg.events[0]["alarm"] == "comm-loss" and msg.events[0]["state"] == "raised"


def test_english_on_request() -> None:
    (t,) = _raised(1)
    msg = Renderer("en", NAMES, lambda p: "Asia/Shanghai").render([t])
    assert msg.title == "[major] Communication lost raised: inv-00"
    assert "Check the device's power" in msg.markdown


def test_a_whole_plant_offline_is_one_digest_with_its_count() -> None:
    items = _raised(40) + _raised(2, "p2", start=41)
    msg = Renderer("zh", NAMES, lambda p: "Asia/Shanghai").render(items)
    assert msg.title == "告警汇总: 42 条 (甲村电站 40, 乙村电站 2)"
    assert msg.markdown.count("\n- [重要]") == MAX_LINES
    assert "另有 12 条" in msg.markdown
    assert len(msg.events) == 42


def test_rules_route_by_plant_severity_kind_and_event() -> None:
    (t,) = _raised(1)
    rules = [Rule(channels=["all"]),
             Rule(channels=["p2-only"], plants=["p2"]),
             Rule(channels=["minor"], severities=["minor"]),
             Rule(channels=["codes"], kinds=["device_code"]),
             Rule(channels=["comm", "all"], kinds=["comm_loss"], severities=["major"]),
             Rule(channels=["acks"], events=["acknowledged"])]
    assert route(t, rules) == ["all", "comm"]
    quiet = Transition(t.alarm, t.state, t.ts_ns, notify=False)  # a flapping repeat
    assert route(quiet, rules) == []
