"""Logs are text lines by default and one JSON object per line with --log-format json."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from pvrelief.cli import app
from pvrelief.logs import JsonFormatter

ROOT = Path(__file__).resolve().parents[2]


def test_a_record_is_one_json_object_with_its_traceback() -> None:
    try:
        raise ValueError("bad 值")
    except ValueError:
        record = logging.LogRecord("collector.x", logging.ERROR, __file__, 1, "device %s: %s",
                                   ("inv-1", "broken"), sys.exc_info())
    out = json.loads(JsonFormatter().format(record))
    assert out["level"] == "ERROR" and out["logger"] == "collector.x"
    assert out["msg"] == "device inv-1: broken"
    assert out["ts"].endswith("+00:00") and "ValueError: bad 值" in out["exc"]


def test_collect_logs_json_lines_on_request(tmp_path: Path) -> None:
    config = tmp_path / "site.yaml"
    spool = tmp_path / "spool"
    # one meter at a port nobody listens on: its failed polls are logged too
    config.write_text(
        f"influxdb: {{url: 'http://127.0.0.1:9', spool_dir: '{spool}'}}\n"
        "counties:\n- id: c\n  plants:\n  - {id: p, capacity_kwp_dc: 120, capacity_kw_ac: 100,\n"
        "     latitude: 36.27, longitude: 100.62,\n"
        "     devices: [{id: m, port: 9, unit_id: 1, profile: sunspec-meter}]}\n")
    run = subprocess.run(
        [sys.executable, "-m", "pvrelief", "collect", "--config", str(config), "--duration",
         "0.5", "--metrics-port", "0", "--log-format", "json"],
        cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    lines = [json.loads(line) for line in run.stderr.splitlines() if line.strip()]
    assert lines and all({"ts", "level", "logger", "msg"} <= set(line) for line in lines)
    assert any(line["msg"] == "collector stopped" for line in lines)


def test_an_unknown_log_format_is_refused() -> None:
    result = CliRunner().invoke(app, ["collect", "--config", "x.yaml", "--log-format", "xml"])
    assert result.exit_code == 2 and "text or json" in result.output
