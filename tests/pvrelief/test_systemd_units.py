"""The systemd units in deploy/systemd/ call `pvrelief collect` or `pvrelief web` with
options they have."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pvrelief.cli import app

UNITS = sorted((Path(__file__).resolve().parents[2] / "deploy" / "systemd").glob("*.service"))


def test_there_are_units() -> None:
    assert {u.name for u in UNITS} >= {"pvrelief-collector.service",
                                        "pvrelief-collector@.service", "pvrelief-web.service"}


@pytest.mark.parametrize("unit", UNITS, ids=lambda u: u.name)
def test_every_option_of_execstart_exists(unit: Path) -> None:
    text = unit.read_text()
    [exec_start] = re.findall(r"^ExecStart=(.+)$", text, re.MULTILINE)
    command = exec_start.split()
    assert command[0].endswith("/pvrelief") and command[1] in ("collect", "web")
    help_text = CliRunner().invoke(app, [command[1], "--help"], terminal_width=200).output
    for option in (w for w in command[2:] if w.startswith("--")):
        assert option in help_text, f"{unit.name}: pvrelief {command[1]} has no {option}"
    assert "KillSignal=SIGTERM" in text and "Restart=always" in text
