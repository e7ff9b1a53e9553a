"""Finance runs a period from the page and downloads a statement; a technician gets 403; a
form without its CSRF token is refused; five wrong passwords slow the next attempt down.
All in Debian's Chromium against `pvrelief web` with a simulated fleet in a real InfluxDB."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import openpyxl

from tests.web import fleet
from tests.web.browser_helpers import DESKTOP, PHONE, login, visit
from tests.web.conftest import ROOT, SiteFiles, WebProcess


def _cli_allocate(site: SiteFiles, out: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pvrelief", "allocate", "--config", str(fleet.ALLOCATION),
         "--period", fleet.DAY, "--influx-config", str(site.config), "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=120)


def _village_totals(allocation_csv: Path) -> dict[str, dict[str, int]]:
    totals: dict[str, dict[str, int]] = {}
    with allocation_csv.open(encoding="utf-8-sig", newline="") as f:
        for row in csv.DictReader(f):
            v = totals.setdefault(row["village_id"], {"gross": 0, "deductions": 0, "net": 0})
            v["gross"] += int(row["gross_fen"])
            v["deductions"] += int(row["deductions_fen"])
            v["net"] += int(row["net_fen"])
    return totals


def _statement_totals(path: Path) -> dict[str, int]:
    ws = openpyxl.load_workbook(path).active
    rows = list(ws.iter_rows(values_only=True))
    header, total = rows[3], next(r for r in rows if r[0] == "合计 Total")
    col = {name: i for i, name in enumerate(header)}
    return {k: round(total[col[f"{title} (yuan)"]] * 100)
            for k, title in (("gross", "Gross"), ("deductions", "Deductions"), ("net", "Net"))}


def test_finance_runs_a_period_and_its_statement_matches_pvrelief_allocate(
        browser, web: WebProcess, site: SiteFiles, tmp_path: Path) -> None:
    v = visit(browser, DESKTOP)
    page = login(v.page(), web.base, "fin")
    assert page.url.endswith("/revenue")
    page.fill("input[name=period]", fleet.DAY)
    page.once("dialog", lambda d: d.accept())  # "allocate this period?"
    with page.expect_navigation():
        page.click("form[action='/revenue/run'] button[type=submit]")
    assert page.url.endswith(f"/revenue/{fleet.DAY}"), page.content()[:2000]

    cli = _cli_allocate(site, tmp_path / "cli")
    assert cli.returncode == 0, cli.stderr
    cli_totals = _village_totals(tmp_path / "cli" / "allocation.csv")
    assert set(cli_totals) >= {"village-a", "village-b", "chabuqia-01"}
    assert sum(t["gross"] for t in cli_totals.values()) > 0

    for village in ("village-a", "chabuqia-01"):
        with page.expect_download() as got:
            page.click(f"a[href='/revenue/{fleet.DAY}/statements/{village}.xlsx']")
        saved = tmp_path / f"{village}.xlsx"
        got.value.save_as(saved)
        assert _statement_totals(saved) == cli_totals[village]
    with page.expect_download() as got:
        page.click(f"a[href='/revenue/{fleet.DAY}/allocation.csv']")
    got.value.save_as(tmp_path / "page-allocation.csv")
    assert _village_totals(tmp_path / "page-allocation.csv") == cli_totals

    # the inputs' hash on the page is the one pvrelief allocate records for the same inputs
    summary = json.loads((tmp_path / "cli" / "allocation.json").read_text())
    assert len(summary["inputs"]["config"]["sha256"]) == 64
    assert summary["inputs"]["config"]["sha256"] in page.inner_text(".hashes")
    assert v.outside(web.base) == []
    v.close()


def test_a_technician_gets_403_on_every_revenue_url(browser, web: WebProcess) -> None:
    v = visit(browser, PHONE)
    page = login(v.page(), web.base, "tech")
    for path in ("/revenue", f"/revenue/{fleet.DAY}", f"/revenue/{fleet.DAY}/allocation.csv",
                 f"/revenue/{fleet.DAY}/statements/village-a.xlsx"):
        answer = page.request.get(web.base + path)
        assert answer.status == 403, path
    assert page.goto(web.base + "/revenue").status == 403
    assert "无权" in page.content()
    answer = page.request.post(web.base + "/revenue/run", form={"period": fleet.DAY})
    assert answer.status == 403
    v.close()


def test_a_form_without_its_csrf_token_is_refused(browser, web: WebProcess,
                                                  site: SiteFiles) -> None:
    v = visit(browser, DESKTOP)
    page = login(v.page(), web.base, "fin", path="/revenue")
    before = sorted(p.name for p in (site.folder / "revenue").iterdir())
    page.evaluate("document.querySelector(\"form[action='/revenue/run'] input[name=csrf]\")"
                  ".remove()")
    page.fill("input[name=period]", "2020-06-20")
    page.once("dialog", lambda d: d.accept())
    with page.expect_navigation():
        page.click("form[action='/revenue/run'] button[type=submit]")
    assert "表单已过期" in page.content()
    assert sorted(p.name for p in (site.folder / "revenue").iterdir()) == before
    # a wrong token and a right token from another origin are refused the same way
    token = page.goto(web.base + "/revenue") and page.get_attribute("input[name=csrf]", "value")
    assert page.request.post(web.base + "/logout", form={"csrf": "x" * 43}).status == 403
    assert page.request.post(web.base + "/logout", form={"csrf": token},
                             headers={"Origin": "http://evil.example"}).status == 403
    assert page.request.post(web.base + "/logout", form={"csrf": token}).status in (200, 303)
    v.close()


def test_five_wrong_passwords_slow_the_next_attempt_down(browser, web: WebProcess) -> None:
    v = visit(browser, PHONE)
    page = v.page()
    for _ in range(5):
        login(page, web.base, "boss", password="not-the-password")
        assert "用户名或密码错误" in page.content()
    # the sixth attempt, even with the right password, is refused unchecked for a while
    page.goto(web.base + "/login")
    page.fill("input[name=name]", "boss")
    page.fill("input[name=password]", "admin-secret-333")
    with page.expect_navigation() as nav:
        page.click("form[action='/login'] button[type=submit]")
    assert nav.value.status == 429
    assert int(nav.value.headers["retry-after"]) > 0
    assert "密码错误次数过多" in page.content()
    assert "/login" in page.url
    v.close()


def test_a_period_not_ended_by_the_page_clock_needs_the_provisional_box(
        browser, web: WebProcess, site: SiteFiles) -> None:
    v = visit(browser, DESKTOP, lang="en-US")
    page = login(v.page(), web.base, "fin", path="/revenue?lang=en")
    today = fleet.NOW.date().isoformat()  # the page's clock is at noon of this day
    page.fill("input[name=period]", today)
    page.once("dialog", lambda d: d.accept())
    with page.expect_navigation() as nav:
        page.click("form[action='/revenue/run'] button[type=submit]")
    assert nav.value.status == 422
    assert "has not ended yet" in page.inner_text("main")
    assert not (site.folder / "revenue" / today).exists()
    page.fill("input[name=period]", today)
    page.check("input[name=provisional]")
    page.once("dialog", lambda d: d.accept())
    with page.expect_navigation():
        page.click("form[action='/revenue/run'] button[type=submit]")
    assert page.url.endswith(f"/revenue/{today}"), page.inner_text("main")
    assert "provisional" in page.inner_text("h1")
    summary = json.loads((site.folder / "revenue" / today / "allocation.json").read_text())
    assert summary["provisional"] is True
    v.close()
