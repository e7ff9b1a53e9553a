"""The simulator is an independent party: it never imports the collector, nor the reverse.

The collector is checked against the simulator; if the simulator borrowed the collector's code
(its codec, say), a bug in that code would agree with itself and every round trip would pass.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def imported_modules(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
        elif isinstance(node, ast.Call) and node.args and \
                isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
            name = getattr(node.func, "attr", getattr(node.func, "id", ""))
            if name in ("import_module", "__import__"):  # importlib, by a literal name
                found.append((node.lineno, node.args[0].value))
    return found


def crossings(package: str, forbidden: str) -> list[str]:
    bad = []
    for path in sorted((ROOT / package).rglob("*.py")):
        for line, module in imported_modules(path):
            if module == forbidden or module.startswith(forbidden + "."):
                bad.append(f"{path.relative_to(ROOT)}:{line}: imports {module}")
    return bad


@pytest.mark.parametrize(("package", "forbidden"), [
    ("simulator", "collector"), ("collector", "simulator"),
])
def test_no_imports_across(package: str, forbidden: str) -> None:
    assert (ROOT / package / "__init__.py").is_file()
    assert crossings(package, forbidden) == []


def test_the_check_sees_an_import(tmp_path: Path) -> None:
    path = tmp_path / "m.py"
    path.write_text("import os\nif True:\n    from collector.sources.modbus import codec\n"
                    "def f():\n    import collector\n"
                    "importlib.import_module('collector.runner')\n")
    assert sorted(m for _, m in imported_modules(path)) == [
        "collector", "collector.runner", "collector.sources.modbus", "os"]
