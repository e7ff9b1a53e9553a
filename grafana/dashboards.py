"""The pvrelief dashboards as Grafana JSON (schemaVersion 41, Grafana 11.6).

``render()`` is what ``pvrelief grafana build`` writes to grafana/dashboards/; the files are
checked in and a test fails when they drift from this code.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.cog.encoder import JSONEncoder

from grafana import alarm_board, finance, kpi_board, operators, technicians

DASHBOARD_DIR = Path(__file__).resolve().parent / "dashboards"
BUILDERS: dict[str, Callable[[], dash.Dashboard]] = {
    f"{operators.UID}.json": operators.build,
    f"{technicians.UID}.json": technicians.build,
    f"{finance.UID}.json": finance.build,
    f"{alarm_board.UID}.json": alarm_board.build,
    f"{kpi_board.UID}.json": kpi_board.build,
}


def _flatten_rows(panels: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Open every row, its panels following it at the top level, as Grafana saves them.

    The SDK nests a row's panels in it and so must mark it collapsed (Grafana strips panels
    nested in an open row). The dashboards are short and a closed row would hide the alarm a
    technician opens them for, so every row is opened here, keeping the SDK's layout.
    """
    out: list[dict[str, Any]] = []
    for p in panels:
        out.append(p)
        if p.get("type") == "row":
            out.extend(p.pop("panels", []))
            p["panels"] = []
            p["collapsed"] = False
    return out


def as_dict(builder: dash.Dashboard) -> dict[str, Any]:
    d: dict[str, Any] = json.loads(json.dumps(builder.build(), cls=JSONEncoder))
    d["panels"] = _flatten_rows(d.get("panels", []))
    # ids are what Grafana keys panel links and edits by: stable, in layout order
    for i, p in enumerate(d["panels"], start=1):
        p["id"] = i
    return d


def dashboards() -> dict[str, dict[str, Any]]:
    """File name -> dashboard JSON model."""
    return {name: as_dict(build()) for name, build in BUILDERS.items()}


def render(model: dict[str, Any]) -> str:
    return json.dumps(model, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write(out: Path = DASHBOARD_DIR) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, model in dashboards().items():
        path = out / name
        path.write_text(render(model), encoding="utf-8")
        written.append(path)
    return written
