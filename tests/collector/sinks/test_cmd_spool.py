"""`pvrelief spool status|replay|drop` on a real spool and a real InfluxDB."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from typer.testing import CliRunner

from collector.reading import Reading
from collector.sinks.spool import Spool
from influx.lineprotocol import encode
from localsite.servers import InfluxServer
from pvrelief.cli import app

T0_MS = 1_767_225_600_000


def fill(directory: Path, batches: int) -> None:
    s = Spool(directory, max_bytes=64 << 20, segment_bytes=1 << 20).open()
    for k in range(batches):
        rs = [Reading("inverter", "p1", f"d{i}", (T0_MS + k) * 10**6, {"p_ac_w": 1.0})
              for i in range(10)]
        s.append(encode(rs, "ms"), 10, "ms")
    s.close()


def test_status_drop_and_replay(
    influxdb: InfluxServer, influx_db: str, tmp_path: Path, read_points: Callable
) -> None:
    runner = CliRunner()
    spool = tmp_path / "spool"
    fill(spool, 3)
    r = runner.invoke(app, ["spool", "status", "--dir", str(spool)])
    assert r.exit_code == 0, r.output
    assert "undelivered: 30 points" in r.output and "not in use" in r.output

    held = Spool(spool, max_bytes=64 << 20, segment_bytes=1 << 20).open()
    r = runner.invoke(app, ["spool", "drop", "--dir", str(spool), "--yes"])
    assert r.exit_code == 2  # a running collector owns it
    held.close()
    assert runner.invoke(app, ["spool", "drop", "--dir", str(spool)]).exit_code == 2  # no --yes
    r = runner.invoke(app, ["spool", "drop", "--dir", str(spool), "--yes"])
    assert r.exit_code == 0 and "dropped 30 undelivered points" in r.output

    fill(spool, 2)
    r = runner.invoke(app, ["spool", "replay", "--dir", str(spool), "--url", influxdb.url,
                            "--database", influx_db, "--timeout", "20"])
    assert r.exit_code == 0, r.output
    assert len(read_points(influxdb, influx_db)) == 20
    r = runner.invoke(app, ["spool", "status", "--dir", str(spool)])
    assert "undelivered: 0 points" in r.output
