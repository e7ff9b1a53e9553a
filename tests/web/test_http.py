"""The page's HTTP rules in-process (httpx's ASGI transport; no browser, no InfluxDB needed):
cookies without TLS when configured so, bounded url-encoded forms, local redirects only."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from config.loader import load_config
from web.app import build_site, create_app
from web.http import safe_next

PW = "technician-secret-1"


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    path = tmp_path / "site.yaml"
    path.write_text(
        f"influxdb: {{url: 'http://127.0.0.1:9', spool_dir: {tmp_path / 'spool'}}}\n"
        "web: {secure_cookies: false}\n"
        "counties: [{id: c, plants: [{id: p, capacity_kwp_dc: 1, capacity_kw_ac: 1, "
        "latitude: 36, longitude: 100}]}]\n")
    site = build_site(load_config(path))
    site.state.accounts().add("wang", "technician", PW)
    transport = httpx.ASGITransport(app=create_app(site), client=("127.0.0.1", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8080") as c:
        yield c


async def _login(client: httpx.AsyncClient, nxt: str = "/") -> httpx.Response:
    await client.get("/login")
    token = client.cookies["pvrelief-login"]
    return await client.post("/login", data={"csrf": token, "name": "wang", "password": PW,
                                       "next": nxt})


async def test_without_tls_the_cookies_lose_secure_and_the_host_prefix(
        client: httpx.AsyncClient) -> None:
    answer = await client.get("/login")
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith("pvrelief-login=") and "Secure" not in cookie
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie
    logged_in = await _login(client)
    assert logged_in.status_code == 303 and logged_in.headers["location"] == "/alarms"
    assert "pvrelief" in client.cookies


async def test_after_login_only_a_local_path_is_followed(client: httpx.AsyncClient) -> None:
    assert (await _login(client, "//evil.example/x")).headers["location"] == "/alarms"
    client.cookies.clear()
    assert (await _login(client, "/plants?lang=en")).headers["location"] == "/plants?lang=en"
    for bad in ("https://evil.example/", "//evil.example", "/\\evil", "", None, "plants"):
        assert safe_next(bad) == "/"


async def test_forms_are_url_encoded_and_small(client: httpx.AsyncClient) -> None:
    await client.get("/login")
    token = client.cookies["pvrelief-login"]
    assert (await client.post("/login", json={"csrf": token})).status_code == 415
    big = {"csrf": token, "name": "wang", "password": "x" * 20_000}
    assert (await client.post("/login", data=big)).status_code == 413
    wrong = await client.post("/login", data={"csrf": "wrong", "name": "wang", "password": PW})
    assert wrong.status_code == 403


async def test_influxdb_down_is_a_message_on_the_page_and_a_503_on_healthz(
        client: httpx.AsyncClient) -> None:
    await _login(client)
    page = await client.get("/plants")
    assert page.status_code == 200 and "无法读取监测数据" in page.text
    health = await client.get("/healthz")
    assert health.status_code == 503 and "influxdb" in health.text
