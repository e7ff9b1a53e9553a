"""Damaged example files are accepted or refused with 'file:line: message', never a traceback.

Mutates config/examples/gonghe.yaml (through the collector config loader) and
config/examples/allocation-gonghe.yaml (through the allocation inputs loader), byte by byte and
entry by entry, with the snippets that crashed the old loaders mixed in. Every problem line of
the error must start with the file and a line number; any other exception fails the test.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings

from allocator.errors import InputError
from allocator.inputs import load_inputs
from config.errors import ConfigError
from config.loader import load_config
from config.profiles import load_registry
from tests.config.yaml_mutations import mutations

EXAMPLES = Path(__file__).resolve().parents[2] / "config" / "examples"
CONFIG = (EXAMPLES / "gonghe.yaml").read_bytes()
ALLOCATION = (EXAMPLES / "allocation-gonghe.yaml").read_bytes()
REGISTRY = load_registry()
# 300 per file on every run; PVRELIEF_MUTATIONS=2000 for a longer hunt (README figures)
BOUNDED = settings(max_examples=int(os.environ.get("PVRELIEF_MUTATIONS", "300")), deadline=None,
                   suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _problems_start_with_file_and_line(path: Path, lines: list[str]) -> None:
    assert lines
    starts = re.compile(rf"^{re.escape(str(path))}:\d+: \S")
    for line in lines:
        assert starts.match(line) and "\n" not in line, f"not one 'file:line: ...': {line!r}"


@BOUNDED
@given(mutations(CONFIG))
def test_a_damaged_config_is_accepted_or_refused_with_file_and_line(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "gonghe.yaml"
        path.write_bytes(data)
        try:
            load_config(path, REGISTRY)
        except ConfigError as e:
            _problems_start_with_file_and_line(path, e.problems)
            assert "\n".join(e.problems) == str(e)


@BOUNDED
@given(mutations(ALLOCATION))
def test_a_damaged_allocation_file_is_accepted_or_refused_with_file_and_line(
        data: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "allocation.yaml"
        path.write_bytes(data)
        try:
            load_inputs(path)
        except InputError as e:
            _problems_start_with_file_and_line(path, str(e).splitlines())
