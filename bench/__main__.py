"""``python -m bench [name ...]``: run every benchmark module (or the named ones)."""

from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path


def main() -> None:
    wanted = set(sys.argv[1:])
    for mod in sorted(pkgutil.iter_modules([str(Path(__file__).parent)]), key=lambda m: m.name):
        if mod.name.startswith("_") or (wanted and mod.name not in wanted):
            continue
        module = importlib.import_module(f"bench.{mod.name}")
        if hasattr(module, "main"):
            print(f"== bench.{mod.name}", flush=True)
            module.main()


if __name__ == "__main__":
    main()
