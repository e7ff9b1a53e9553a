"""Alarm transitions as ``alarm`` points: what InfluxDB stores, and that none overwrites
another."""

from __future__ import annotations

import httpx

from collector.alarms.builtin import Builtins
from collector.alarms.lifecycle import Lifecycle
from collector.alarms.model import Signal
from collector.alarms.points import to_reading
from influx.lineprotocol import encode
from localsite.servers import InfluxServer
from tests.collector.alarms.helpers import CATALOG, NOON, S, config

CFG = config()
B = Builtins(CFG.alarms, CATALOG)


def test_a_transition_is_one_line_with_its_tags_and_text() -> None:
    lc = Lifecycle(CFG.alarms)
    lc.signal(Signal("p1", "inv-01", B.device_code("huawei-sun2000", 2062), True, NOON, "v1",
                     2062.0, 'code "2062"\nreported'))
    lc.acknowledge(1, NOON + S, "王 工", "路上, a=b")
    body = encode([to_reading(t) for t in lc.drain()], "ns").decode()
    raised, acked = body.splitlines()
    assert raised.startswith("alarm,plant=p1,device=inv-01,village=v1,alarm=code-2062,"
                             "kind=device_code,severity=major ")
    assert 'state="raised"' in raised and 'name_zh="绝缘阻抗低"' in raised
    assert 'detail="code \\"2062\\" reported"' in raised  # one line: the newline is gone
    assert "active=1.0" in raised and "seq=1.0" in raised and "code=2062.0" in raised
    assert 'state="acknowledged"' in acked and 'by="王 工"' in acked
    assert 'note="路上, a=b"' in acked


def test_influxdb_keeps_every_transition_of_alarms_raised_at_one_instant(
        influxdb: InfluxServer, influx_db: str) -> None:
    lc = Lifecycle(CFG.alarms, unit_ns=1_000_000)  # ms, the sink's default precision
    for code in (2032, 2064):  # two codes in one reading: two alarms, one timestamp
        lc.signal(Signal("p1", "inv-01", B.device_code("huawei-sun2000", code), True, NOON))
    lc.acknowledge(1, NOON, "王工", None)  # at the very same instant as its raise
    readings = [to_reading(t) for t in lc.drain()]
    r = httpx.post(f"{influxdb.url}/write", params={"db": influx_db, "precision": "ms"},
                   content=encode(readings, "ms"), timeout=10, trust_env=False)
    assert r.status_code == 204, r.text
    rows = influxdb.query('SELECT "state", "seq" FROM "alarm" GROUP BY "alarm"', influx_db)
    got = sorted((s["tags"]["alarm"], v[1]) for s in rows for v in s["values"])
    assert got == [("code-2032", "acknowledged"), ("code-2032", "raised"),
                   ("code-2064", "raised")]
