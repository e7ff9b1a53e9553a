"""The page is a consumer: it never imports the simulator, and nothing but the command
package (and tests) imports the page."""

from __future__ import annotations

from tests.test_layering import ROOT, crossings


def test_the_page_never_imports_the_simulator() -> None:
    assert crossings("web", "simulator") == []


def test_only_the_command_package_imports_the_page() -> None:
    packages = [p.name for p in ROOT.iterdir()
                if (p / "__init__.py").is_file() and p.name not in ("web", "pvrelief", "tests")]
    assert "collector" in packages and "allocator" in packages
    assert [bad for p in packages for bad in crossings(p, "web")] == []
