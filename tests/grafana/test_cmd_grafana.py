"""`pvrelief grafana`: build writes what the drift test checks; push's request is built right.

The push itself is not tested against Grafana: no Grafana server can run here.
"""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from grafana.dashboards import DASHBOARD_DIR, dashboards
from grafana.push import push_request
from pvrelief.cli import app


def test_build_writes_every_dashboard(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["grafana", "build", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    for p in DASHBOARD_DIR.glob("*.json"):
        assert (tmp_path / p.name).read_text(encoding="utf-8") == p.read_text(encoding="utf-8")


def test_push_request_overwrites_by_uid_with_a_bearer_token() -> None:
    model = dashboards()["pvrelief-operators.json"]
    r = push_request("http://grafana:3000/", model, "glsa_x")
    assert r.method == "POST" and str(r.url) == "http://grafana:3000/api/dashboards/db"
    assert r.headers["Authorization"] == "Bearer glsa_x"
    body = json.loads(r.content)
    assert body["overwrite"] is True and body["dashboard"]["id"] is None
    assert body["dashboard"]["uid"] == "pvrelief-operators"
    assert "Authorization" not in push_request("http://g", model, None).headers
