"""The checked-in dashboard JSON is what the code generates, and it is well formed."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from grafana.dashboards import DASHBOARD_DIR, dashboards, render

MODELS = dashboards()
BUILTINS = {"timeFilter", "__interval", "__from", "__to", "__all"}


def test_checked_in_json_equals_generated() -> None:
    on_disk = {p.name for p in DASHBOARD_DIR.glob("*.json")}
    assert on_disk == set(MODELS), "run `pvrelief grafana build`"
    for name, model in MODELS.items():
        assert (DASHBOARD_DIR / name).read_text(encoding="utf-8") == render(model), (
            f"{name} drifted from grafana/*.py: run `pvrelief grafana build`")


def _content(d: dict[str, Any]) -> list[dict[str, Any]]:
    return [p for p in d["panels"] if p["type"] != "row"]


@pytest.mark.parametrize("name", sorted(MODELS))
def test_schema(name: str) -> None:
    d = MODELS[name]
    assert d["schemaVersion"] == 41
    assert d["uid"] and d["title"]
    ids = [p["id"] for p in d["panels"]]
    assert len(ids) == len(set(ids))
    for p in d["panels"]:
        if p["type"] == "row":
            assert p["collapsed"] is False and p["panels"] == []  # open rows hold nothing
    for p in _content(d):
        assert p["datasource"] == {"type": "influxdb", "uid": "${datasource}"}, p["title"]
        assert p["targets"], p["title"]
        refs = [t["refId"] for t in p["targets"]]
        assert all(refs) and len(refs) == len(set(refs)), p["title"]
        for t in p["targets"]:
            assert t["rawQuery"] is True and t["query"] and t["datasource"] == p["datasource"]
            assert t["resultFormat"] in ("time_series", "table")


@pytest.mark.parametrize("name", sorted(MODELS))
def test_grid_fits_24_columns_without_overlap(name: str) -> None:
    cells: dict[tuple[int, int], int] = {}
    for p in MODELS[name]["panels"]:
        g = p["gridPos"]
        assert g["x"] >= 0 and g["w"] > 0 and g["h"] > 0 and g["x"] + g["w"] <= 24, p["title"]
        for x in range(g["x"], g["x"] + g["w"]):
            for y in range(g["y"], g["y"] + g["h"]):
                assert (x, y) not in cells, f"panel {p['id']} overlaps panel {cells[(x, y)]}"
                cells[(x, y)] = p["id"]


@pytest.mark.parametrize("name", sorted(MODELS))
def test_every_variable_used_is_defined(name: str) -> None:
    d = MODELS[name]
    defined = {v["name"] for v in d["templating"]["list"]}
    assert {"datasource", "plant"} <= defined
    texts = [json.dumps(v.get("datasource", {})) + str(v.get("query", ""))
             for v in d["templating"]["list"]]
    for p in _content(d):
        texts += [p["title"], p.get("description", ""), json.dumps(p["datasource"])]
        texts += [t["query"] + t.get("alias", "") for t in p["targets"]]
    used = {a or b for text in texts for a, b in re.findall(r"\$\{(\w+)\}|\$(\w+)", text)}
    used = {u for u in used if not u.startswith("tag_")}  # alias patterns, not variables
    assert used - BUILTINS <= defined, used - BUILTINS - defined
