"""Playwright helpers: phone and desktop contexts that record every request, and logging in."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tests.web.conftest import PASSWORDS

PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2,
         "is_mobile": True, "has_touch": True}
DESKTOP = {"viewport": {"width": 1280, "height": 860}}


@dataclass
class Visit:
    """A browser context and the URL of every request any of its pages made."""

    context: Any
    requests: list[str] = field(default_factory=list)

    def page(self) -> Any:
        page = self.context.new_page()
        page.on("request", lambda r: self.requests.append(r.url))
        return page

    def outside(self, base: str) -> list[str]:
        """Requests that went anywhere but the page's own server on loopback."""
        return [u for u in self.requests
                if not (u.startswith(base + "/") or u == base or u.startswith("data:"))]

    def close(self) -> None:
        self.context.close()


def visit(browser: Any, size: dict[str, Any], lang: str = "zh-CN") -> Visit:
    return Visit(browser.new_context(locale=lang, **size))


def login(page: Any, base: str, name: str, password: str | None = None,
          path: str = "/") -> Any:
    page.goto(base + path)
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", password or PASSWORDS[name])
    with page.expect_navigation():
        page.click("form[action='/login'] button[type=submit]")
    return page
