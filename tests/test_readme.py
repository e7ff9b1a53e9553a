"""README parts generated from data stay in step with their sources."""

from __future__ import annotations

from pathlib import Path

from bench.readme_table import render

README = Path(__file__).resolve().parents[1] / "README.md"


def test_benchmark_table_matches_the_committed_results() -> None:
    assert render() in README.read_text(encoding="utf-8"), \
        "README's benchmark table is stale: paste the output of `python -m bench.readme_table`"


def test_scaling_figures_match_the_committed_results() -> None:
    from bench.readme_table import render_sizing

    assert render_sizing() in README.read_text(encoding="utf-8"), \
        "README's Scaling out figures are stale: paste the second block of " \
        "`python -m bench.readme_table`"


def test_readme_opens_with_the_two_commands() -> None:
    head = README.read_text(encoding="utf-8")[:1500]
    assert "make demo" in head and "make test" in head


def test_config_reference_matches_the_models() -> None:
    from config.reference import render as render_reference

    assert render_reference() in README.read_text(encoding="utf-8"), \
        "README's config reference is stale: paste the output of `python -m config.reference`"
