"""HTML to PDF with Chromium through Playwright: the only place that knows about either.

Chromium is Debian's (``apt-get install chromium``, with ``fonts-wqy-microhei`` so that Chinese
text is not drawn as boxes); Playwright drives it by ``executable_path`` and never downloads a
browser. Its errors become ``OutputError``. ``PVRELIEF_CHROMIUM`` overrides the path.
"""

from __future__ import annotations

import os
from pathlib import Path

from allocator.errors import OutputError

CHROMIUM = os.environ.get("PVRELIEF_CHROMIUM", "/usr/bin/chromium")


def html_to_pdf(pages: dict[str, str]) -> dict[str, bytes]:
    """Each HTML page (by name) printed as one A4 PDF (by the same name, .pdf)."""
    if not pages:
        return {}
    if not Path(CHROMIUM).exists():
        raise OutputError(f"PDF notices need Chromium at {CHROMIUM} (apt-get install chromium "
                          f"fonts-wqy-microhei, or set PVRELIEF_CHROMIUM)")
    try:
        from playwright.sync_api import Error as PlaywrightError
        from playwright.sync_api import sync_playwright
    except ImportError as e:
        raise OutputError(f"PDF notices need the playwright package ({e})") from e
    out: dict[str, bytes] = {}
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            try:
                page = browser.new_page()
                for name, html in pages.items():
                    page.set_content(html, wait_until="load")
                    out[name.removesuffix(".html") + ".pdf"] = page.pdf(
                        format="A4", print_background=True, prefer_css_page_size=True)
            finally:
                browser.close()
    except PlaywrightError as e:
        raise OutputError(f"Chromium could not print the notices: {e}") from e
    return out
