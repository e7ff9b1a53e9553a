"""A technician on a phone sees the injected alarm, acknowledges it with a note; the
acknowledgement survives a restart of the page and shows in `pvrelief alarms list`. Finance
may look at alarms but cannot acknowledge one.

The alarm is real: the simulator reports Huawei alarm 2064 on one inverter, the collector's
alarm stage raises it into the state database during the fill (tests/web/fleet.py)."""

from __future__ import annotations

import re
import subprocess
import sys

from collector.alarms.store import AlarmStore
from tests.web import fleet
from tests.web.browser_helpers import DESKTOP, PHONE, login, visit
from tests.web.conftest import ROOT, SiteFiles, WebProcess, screenshot_dir


def _shot(page, name: str) -> None:  # type: ignore[no-untyped-def]
    page.screenshot(path=str(screenshot_dir() / f"{name}.png"), full_page=True, scale="css")


def _the_alarm(site: SiteFiles) -> int:
    store = AlarmStore(site.state_dir, create=False)
    try:
        found = [a for a in store.query(active=True) if a.device == fleet.FAULTY
                 and a.definition.code == 2064]
    finally:
        store.close()
    assert len(found) == 1, "the collector raised the injected alarm once"
    return found[0].id


def test_a_technician_acknowledges_on_a_phone_and_it_persists(browser, site: SiteFiles) -> None:
    alarm_id = _the_alarm(site)
    server = WebProcess(site).start()
    try:
        v = visit(browser, PHONE)
        page = login(v.page(), server.base, "tech")
        assert page.url.endswith("/alarms")
        card = page.locator(".alarm-list li", has_text=fleet.FAULTY)
        assert "设备异常" in card.inner_text()  # the catalog's name_zh for 2064
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        _shot(page, "alarms-phone")
        with page.expect_navigation():
            card.locator("a.title").click()
        assert page.url.endswith(f"/alarms/{alarm_id}")
        assert page.locator("svg.chart").count() == 1  # p_ac_w around the raise
        page.fill("textarea[name=note]", "明早9点到站检查 check strings")
        with page.expect_navigation():
            page.click(f"form[action='/alarms/{alarm_id}/ack'] button[type=submit]")
        assert page.url.endswith(f"/alarms/{alarm_id}?acked=1")
        _shot(page, "alarm-phone")
        assert v.outside(server.base) == []
        v.close()
    finally:
        server.stop()

    server.start()  # a restart: what the page shows comes from the state database
    try:
        v = visit(browser, DESKTOP)
        page = login(v.page(), server.base, "tech", path=f"/alarms/{alarm_id}")
        history = page.inner_text(".history")
        assert "已确认" in history and "tech" in history and "明早9点到站检查" in history
        assert page.locator(f"form[action='/alarms/{alarm_id}/ack']").count() == 0
        _shot(page, "alarm-desktop")
        page.goto(server.base + "/alarms?show=recent")
        _shot(page, "alarms-desktop")
        v.close()
    finally:
        server.stop()

    listed = subprocess.run(
        [sys.executable, "-m", "pvrelief", "alarms", "list", "--config", str(site.config)],
        cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert listed.returncode == 0, listed.stderr
    row = next(line for line in listed.stdout.splitlines()
               if re.match(rf"\s*{alarm_id}\s", line))
    assert "已确认" in row and row.rstrip().endswith("tech")


def test_finance_may_look_but_cannot_acknowledge(browser, site: SiteFiles) -> None:
    alarm_id = _the_alarm(site)
    server = WebProcess(site).start()
    try:
        v = visit(browser, DESKTOP)
        page = login(v.page(), server.base, "fin")
        assert page.goto(server.base + f"/alarms/{alarm_id}").status == 200
        assert page.locator(f"form[action='/alarms/{alarm_id}/ack']").count() == 0
        token = page.get_attribute("form[action='/logout'] input[name=csrf]", "value")
        answer = page.request.post(server.base + f"/alarms/{alarm_id}/ack",
                                   form={"csrf": token, "note": "x"})
        assert answer.status == 403
        v.close()
    finally:
        server.stop()
    store = AlarmStore(site.state_dir, create=False)
    try:
        assert store.get(alarm_id).acked_by != "fin"
        assert all(t.actor != "fin" for t in store.history(alarm_id))
    finally:
        store.close()
