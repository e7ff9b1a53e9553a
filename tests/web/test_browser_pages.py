"""Every page at phone and desktop widths: screenshots (test artefacts, and the README's under
docs/ with `make screenshots`), nothing loaded from anywhere but the page's own server, the
Plants page's figures against InfluxDB, and English on request."""

from __future__ import annotations

import json
import re

from influx import names
from influx.client import InfluxClient
from localsite.servers import free_port
from tests.web import fleet
from tests.web.browser_helpers import DESKTOP, PHONE, login, visit
from tests.web.conftest import SiteFiles, WebProcess, screenshot_dir

PAGES = [("login", None, "/login"), ("plants", "boss", "/plants"),
         ("plant", "boss", "/plants/village-a"), ("revenue", "fin", "/revenue"),
         ("period", "fin", f"/revenue/{fleet.DAY}")]


def _ensure_period(browser, web: WebProcess, site: SiteFiles) -> None:
    if (site.folder / "revenue" / fleet.DAY / "allocation.json").exists():
        return
    v = visit(browser, DESKTOP)
    page = login(v.page(), web.base, "fin")
    page.fill("input[name=period]", fleet.DAY)
    page.once("dialog", lambda d: d.accept())
    with page.expect_navigation():
        page.click("form[action='/revenue/run'] button[type=submit]")
    assert page.url.endswith(f"/revenue/{fleet.DAY}"), page.inner_text("main")
    v.close()


def test_every_page_at_phone_and_desktop_width_loads_nothing_from_outside(
        browser, web: WebProcess, site: SiteFiles) -> None:
    _ensure_period(browser, web, site)
    out = screenshot_dir()
    for size_name, size in (("phone", PHONE), ("desktop", DESKTOP)):
        for name, user, path in PAGES:
            v = visit(browser, size)
            page = v.page()
            if user:
                login(page, web.base, user, path=path)
            answer = page.goto(web.base + path)
            assert answer is not None and answer.status == 200, (name, size_name)
            assert page.url == web.base + path, (page.url, path)
            page.wait_for_load_state("networkidle")
            # no page is wider than the phone: only tables may scroll, inside their frame
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= size["viewport"]["width"], (name, size_name, width)
            page.screenshot(path=str(out / f"{name}-{size_name}.png"), full_page=True, scale="css")
            assert v.requests, "the request log recorded nothing"
            assert v.outside(web.base) == [], (name, v.outside(web.base))
            v.close()
    assert len(list(out.glob("*-phone.png"))) >= len(PAGES)


def test_the_plants_page_shows_what_influxdb_holds(browser, web: WebProcess,
                                                   site: SiteFiles) -> None:
    v = visit(browser, DESKTOP)
    page = login(v.page(), web.base, "boss", path="/plants/village-a")
    text = page.inner_text("main")
    # energy today from the settlement meter: its counter now minus at local midnight
    import yaml

    cfg = yaml.safe_load(site.config.read_text())
    settings = cfg["influxdb"]
    from config.influx import InfluxSettings

    with InfluxClient(InfluxSettings(url=settings["url"], database=settings["database"])) as c:
        now = int(fleet.NOW.timestamp()) * 10**9
        midnight = int(fleet.NOW.replace(hour=0).timestamp()) * 10**9

        def counter(lo: int, hi: int) -> float:
            rows = c.query(f"SELECT last({names.E_EXPORT_KWH}) FROM meter WHERE plant = "
                           f"'village-a' AND device = 'va-meter' AND time > {lo} AND "
                           f"time <= {hi}")
            return float(rows[0]["values"][0][1])

        today = counter(midnight, now) - counter(midnight - 86_400 * 10**9, midnight)
    assert today > 50  # a sunny morning on 300 kWp
    assert f"{today:,.1f}" in text
    assert "va-meter" in text and "va-inv-01" in text and "va-inv-02" in text
    # every device answered within three poll intervals of the page's clock: 100% online
    assert re.search(r"100%\s*\(3/3\)", text), text
    v.close()


def test_english_on_request_and_chinese_by_default(browser, web: WebProcess) -> None:
    v = visit(browser, PHONE, lang="en-US")
    page = v.page()
    page.goto(web.base + "/login")
    assert "登录" in page.content()  # Chinese by default, whatever the browser prefers
    page.click("a.lang")
    assert "Log in" in page.inner_text("main")
    page.goto(web.base + "/login")  # the choice is remembered (a cookie)
    assert "Log in" in page.inner_text("main")
    v.close()


def test_headers_cookies_health_and_metrics(web: WebProcess) -> None:
    import httpx

    login_page = httpx.get(web.base + "/login")
    h = login_page.headers
    assert "script-src 'self'" in h["content-security-policy"]
    assert "frame-ancestors 'none'" in h["content-security-policy"]
    assert h["x-content-type-options"] == "nosniff" and h["x-frame-options"] == "DENY"
    assert h["referrer-policy"] == "same-origin" and h["cache-control"] == "no-store"
    assert "server" not in h
    cookie = h["set-cookie"]
    assert cookie.startswith("__Host-pvrelief-login=")
    for flag in ("HttpOnly", "Secure", "SameSite=strict", "Path=/"):
        assert flag in cookie
    assert "Domain" not in cookie
    assert "no-store" not in httpx.get(web.base + "/static/app.css").headers.get(
        "cache-control", "")
    assert httpx.get(web.base + "/healthz").text == "ok\n"
    metrics = httpx.get(web.base + "/metrics").text
    assert "pvrelief_logins_total" in metrics
    assert 'pvrelief_web_dependency_up{dependency="influxdb"} 1' in metrics
    # through a proxy (it adds X-Forwarded-For) neither answers
    for path in ("/healthz", "/metrics"):
        assert httpx.get(web.base + path, headers={"X-Forwarded-For": "203.0.113.9"}
                         ).status_code == 404


def test_the_log_is_text_by_default_and_json_lines_on_request(site: SiteFiles,
                                                             web: WebProcess) -> None:
    import httpx

    assert httpx.get(web.base + "/healthz").status_code == 200
    text = web.log.read_text()
    # our format, not uvicorn's own: time, level, logger, message
    assert re.search(r"^\S+ \S+ INFO uvicorn\.access: .*\"GET /healthz HTTP/1\.1\" 200",
                     text, re.MULTILINE), text[-2000:]
    server = WebProcess(site, "--log-format", "json", port=free_port(),
                        log_name="web-json.log").start()
    try:
        assert httpx.get(server.base + "/login").status_code == 200
    finally:
        server.stop()
    records = [json.loads(line) for line in server.log.read_text().splitlines() if line]
    assert all(set(r) >= {"ts", "level", "logger", "msg"} for r in records), records
    assert any(r["logger"] == "uvicorn.error" and "startup complete" in r["msg"]
               for r in records), records
    assert any(r["logger"] == "uvicorn.access" and '"GET /login HTTP/1.1" 200' in r["msg"]
               for r in records), records
