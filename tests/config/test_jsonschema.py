"""The checked-in JSON Schemas are exactly what the pydantic models export."""

from __future__ import annotations

import pytest

from pvrelief.cmd_schema import MODELS, SCHEMA_DIR, render


@pytest.mark.parametrize("name", sorted(MODELS))
def test_checked_in_schema_matches_the_model(name: str) -> None:
    on_disk = (SCHEMA_DIR / name).read_text(encoding="utf-8")
    assert on_disk == render(name), f"run `.venv/bin/pvrelief schema` to refresh {name}"
