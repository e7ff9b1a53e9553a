"""Fixtures for the page: a filled InfluxDB, accounts, `pvrelief web` as a child process, and
Debian's Chromium driven by Playwright.

The fleet is simulated and collected once per module (about 20 s); each server is a real
``pvrelief web`` process on a free loopback port with the simulator's clock frozen at the
fleet's last noon. Chromium is /usr/bin/chromium (Playwright's own browser download cannot be
used here); without it the tests fail, they do not skip.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from localsite.servers import InfluxServer, free_port
from statedb.db import connect
from tests.waiting import wait_until_sync
from tests.web import fleet
from web.accounts import Accounts

CHROMIUM = "/usr/bin/chromium"
ROOT = Path(__file__).resolve().parents[2]
PASSWORDS = {"tech": "technician-secret-1", "fin": "finance-secret-22", "boss": "admin-secret-333"}
ROLES = {"tech": "technician", "fin": "finance", "boss": "admin"}


@dataclass
class SiteFiles:
    folder: Path
    config: Path
    clock: Path
    port: int

    @property
    def state_dir(self) -> Path:
        return self.folder / "state"


@pytest.fixture(scope="module")
def site(influxdb: InfluxServer, tmp_path_factory: pytest.TempPathFactory) -> SiteFiles:
    folder = tmp_path_factory.mktemp("web-site")
    database = f"web{os.getpid()}{folder.name[-4:].replace('-', '')}"
    influxdb.create_database(database)
    port = free_port()
    config = fleet.site_config(folder, influxdb.url, database, port)
    fleet.fill(config)
    accounts = Accounts(connect(folder / "state"))
    for name, password in PASSWORDS.items():
        accounts.add(name, ROLES[name], password)
    accounts.conn.close()
    return SiteFiles(folder, config, fleet.frozen_clock(folder / "clock.json"), port)


class WebProcess:
    """``pvrelief web`` as a child process: started, answering, stopped with SIGTERM."""

    def __init__(self, site: SiteFiles, *options: str, port: int | None = None,
                 log_name: str = "web.log") -> None:
        self.site, self.options = site, options
        self.port = port or site.port
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = site.folder / log_name
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> WebProcess:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "pvrelief", "web", "--config", str(self.site.config),
                 "--sim-clock", str(self.site.clock), "--port", str(self.port),
                 *self.options], cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
        wait_until_sync(self._answers, 60, f"pvrelief web answering on {self.base} "
                                           f"(log: {self.log})")
        return self

    def _answers(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError(f"pvrelief web exited {self.proc.returncode}: "
                                 f"{self.log.read_text()[-2000:]}")
        try:
            return httpx.get(f"{self.base}/healthz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None


@pytest.fixture(scope="module")
def web(site: SiteFiles) -> Iterator[WebProcess]:
    server = WebProcess(site).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        raise AssertionError(f"{CHROMIUM} is missing: apt-get install chromium (make system-deps)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield b
        b.close()


def screenshot_dir() -> Path:
    """Where page screenshots go: PVRELIEF_SCREENSHOTS (make screenshots: docs/screenshots),
    else var/screenshots (git-ignored test artefacts)."""
    folder = Path(os.environ.get("PVRELIEF_SCREENSHOTS") or ROOT / "var" / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder
