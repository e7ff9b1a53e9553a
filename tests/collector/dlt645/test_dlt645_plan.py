"""`pvrelief plan METER`: a DL/T 645 meter's requests per poll and their time on the wire."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from pvrelief.cli import app

EXAMPLE = Path(__file__).resolve().parents[3] / "config" / "examples" / "gonghe.yaml"


def test_plan_of_the_examples_dlt645_meter() -> None:
    result = CliRunner().invoke(app, ["plan", "vb-meter", "-c", str(EXAMPLE)],
                                env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "5 requests per poll" in result.output
    # the energy block: 4 FE + 16-byte request, 16 + 5 x 4 bytes answer = 56 bytes; five
    # requests 56 + 56 + 39 + 40 + 39 = 230 bytes x 11 bits / 9600 baud = 0.26 s
    assert "│    56 │" in result.output
    assert "230 bytes, 0.26 s on the wire at 9600 baud 8E1" in result.output
