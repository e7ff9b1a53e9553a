"""Pushing dashboards to a Grafana server's HTTP API.

httpx, not grafana-client: grafana-client pulls in urllib3-future, whose .pth file makes
`import urllib3` load urllib3-future for every package in the environment.
"""

from __future__ import annotations

from typing import Any

import httpx


def push_request(base_url: str, model: dict[str, Any], token: str | None) -> httpx.Request:
    """The POST /api/dashboards/db that creates or replaces one dashboard (by its uid)."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    # id None: Grafana matches on uid, so the same JSON lands on any server
    body = {"dashboard": {**model, "id": None}, "overwrite": True,
            "message": "pvrelief grafana push"}
    return httpx.Request("POST", f"{base_url.rstrip('/')}/api/dashboards/db", json=body,
                         headers=headers)
