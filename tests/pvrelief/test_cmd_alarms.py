"""`pvrelief alarms list|ack|show` as a technician runs them, beside a running collector."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

from collector.alarms.model import State
from collector.runner import Collector
from localsite.servers import InfluxServer
from tests.collector.alarms.rig import plant_config, run, transitions

PVRELIEF = [sys.executable, "-m", "pvrelief"]
FAULTS = [{"device": "inv-01", "kind": "fault_code", "code": 2062, "from": 600},
          {"device": "inv-02", "kind": "no_answer", "from": 600, "until": 900}]
ALARMS = {"hold_s": 60, "comm_loss": {"missed_polls": 1}}


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*PVRELIEF, "alarms", *args], capture_output=True, text=True,
                          timeout=60)


async def test_a_technician_lists_acknowledges_and_looks_at_an_alarm(
        tmp_path: Path, influxdb: InfluxServer, influx_db: str) -> None:
    cfg = plant_config(tmp_path, influxdb, influx_db, faults=FAULTS, alarms=ALARMS)
    config = str(tmp_path / "plant.yaml")
    acked: list[str] = []

    async def until(collector: Collector, sim_s: int) -> bool:
        lc = collector.alarms.lifecycle
        code = lc.open.get(("inv-01", "code-2062"))
        if code is not None and not acked:  # from another process, while the collector runs
            p = await asyncio.create_subprocess_exec(
                *PVRELIEF, "alarms", "ack", str(code.id), "-c", config, "--by", "王工",
                "--note", "下午到场", stdout=asyncio.subprocess.PIPE)
            out, _ = await p.communicate()
            assert p.returncode == 0
            acked.append(out.decode())
        cleared = lc.open.get(("inv-02", "comm-loss"))
        return bool(acked) and code is not None and code.state is State.ACKNOWLEDGED \
            and cleared is not None and cleared.state is State.CLEARED

    await run(cfg, until, timeout_s=90)
    assert "acknowledged by 王工" in acked[0]
    assert ("inv-01", "code-2062", "acknowledged") in [t[:3] for t in
                                                       transitions(influxdb, influx_db)]

    listing = _cli("list", "-c", config)
    assert listing.returncode == 0, listing.stderr
    header, *rows = listing.stdout.splitlines()
    assert header.split() == ["编号", "状态", "级别", "电站", "设备", "告警", "开始", "持续",
                              "确认"]
    assert any("绝缘阻抗低" in r and "已确认" in r and "王工" in r for r in rows)
    assert any("通信中断" in r and "已恢复" in r for r in rows)
    active = _cli("list", "-c", config, "--active", "--lang", "en", "--severity", "major")
    (row,) = active.stdout.splitlines()[1:]
    assert "Low Insulation Resistance" in row and "acknowledged" in row
    assert "no alarms" in _cli("list", "-c", config, "--plant", "elsewhere",
                               "--lang", "en").stdout

    alarm_id = row.split()[0]
    shown = _cli("show", alarm_id, "-c", config)
    assert shown.returncode == 0, shown.stderr
    text = shown.stdout
    assert text.startswith(f"#{alarm_id} 绝缘阻抗低 (code-2062) - p1 / inv-01")
    assert "产生" in text and "已确认 王工: 下午到场" in text
    readings = text.split("\n\n")[-1].splitlines()
    assert readings[0].split()[:2] == ["time", "status"]
    assert any("raised" in r and "2062" in r for r in readings[1:])  # the reading showing it
    assert len(readings) > 5

    again = _cli("ack", alarm_id, "-c", config, "--by", "李工")
    assert again.returncode == 1 and "already acknowledged by 王工" in again.stderr
    missing = _cli("show", "999", "-c", config)
    assert missing.returncode == 1 and "no alarm 999" in missing.stderr
