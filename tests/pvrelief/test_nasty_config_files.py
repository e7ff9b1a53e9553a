"""`pvrelief check-config` and `pvrelief allocate` on hostile files: exit 2, file:line, no trace.

In process (CliRunner) for the whole set, and as real processes for two of them, so that what
an operator sees on the terminal is checked too.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pvrelief.cli import app

EXAMPLES = Path(__file__).resolve().parents[2] / "config" / "examples"
CONFIG = (EXAMPLES / "gonghe.yaml").read_text(encoding="utf-8")
ALLOCATION = (EXAMPLES / "allocation-gonghe.yaml").read_text(encoding="utf-8")
BOMB = "bomb:\n" + "".join(
    f"  - &a{i} [{', '.join([f'*a{i - 1}'] * 9) if i else ', '.join(['lol'] * 9)}]\n"
    for i in range(10))


def _config_cases() -> dict[str, tuple[bytes, str]]:
    """name -> (file, what the message says)."""
    utf8 = CONFIG.encode()
    return {
        "alias-bomb": ((CONFIG + BOMB).encode(), "alias *a5 expands past 1,000,000 nodes"),
        "deep-nesting": ((CONFIG + "x: " + "[" * 500 + "]" * 500 + "\n").encode(),
                         "nest deeper than 64 levels"),
        "python-tag": (CONFIG.replace("seed: 2020", "seed: !!python/object/apply:os.system "
                                                    "['true']").encode(),
                       "tag !!python/object/apply:os.system is not allowed"),
        "bool-tag": (CONFIG.replace("name: 甲村\n", "name: !!bool 甲村\n").encode(),
                     "cannot read '甲村' as bool"),
        "nul-byte": (CONFIG.replace("precision: ms", "precision: m\x00s").encode(),
                     "character U+0000 is not allowed in a YAML file"),
        "escaped-nul-host": (CONFIG.replace("host: 127.0.0.1", 'host: "127.0.0.1\\0"').encode(),
                             "a value holds the control character U+0000"),
        "gbk": (CONFIG.encode("gbk"), "not UTF-8 (byte 0x"),
        "cut-chinese": (utf8[:utf8.index("共和县".encode()) + 2],
                        "not UTF-8 (the file ends inside a character)"),
        "duplicate-key": (CONFIG.replace("  jitter_s: 5\n", "  jitter_s: 5\n  jitter_s: 6\n"
                                         ).encode(), "duplicate key 'jitter_s' (first at line"),
        "empty": (b"", "the file is empty"),
        "no-plants": (b"site: {id: s}\ncounties: []\n", "no plants"),
    }


def _allocation_cases() -> dict[str, tuple[bytes, str]]:
    utf8 = ALLOCATION.encode()
    return {
        "alias-bomb": ((ALLOCATION + BOMB).encode(), "alias *a5 expands past 1,000,000 nodes"),
        "deep-nesting": ((ALLOCATION + "x: " + "[" * 500 + "]" * 500 + "\n").encode(),
                         "nest deeper than 64 levels"),
        "binary-tag": (ALLOCATION.replace("reserve_percent: 2", "reserve_percent: !!binary 'x!'"
                                          ).encode(), "tag !!binary is not allowed"),
        "esc": (ALLOCATION.replace("甲村}", "甲\x1b村}").encode(),
                "character U+001B is not allowed in a YAML file"),
        "cut-chinese": (utf8[:utf8.index("恰卜恰".encode()) + 4],
                        "not UTF-8 (the file ends inside a character)"),
        "duplicate-key": (ALLOCATION.replace("        insurance_per_year: 5220\n",
                                             "        insurance_per_year: 5220\n"
                                             "        insurance_per_year: 1\n").encode(),
                          ":49: duplicate key 'insurance_per_year' (first at line 48)"),
    }


def _write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_bytes(data)
    return path


def _refused_cleanly(path: Path, exit_code: int, output: str, says: str) -> None:
    assert exit_code == 2, output
    assert "Traceback" not in output
    assert f"{path}:" in output and output.split(f"{path}:", 1)[1].split(":")[0].isdigit(), \
        output
    assert says in output, output


@pytest.mark.parametrize(("name", "case"), sorted(_config_cases().items()))
def test_check_config_refuses_a_nasty_file_with_file_and_line(
        tmp_path: Path, name: str, case: tuple[bytes, str]) -> None:
    path = _write(tmp_path, name, case[0])
    result = CliRunner().invoke(app, ["check-config", str(path)])
    assert isinstance(result.exception, SystemExit), result.exception  # no other exception
    _refused_cleanly(path, result.exit_code, result.output, case[1])


@pytest.mark.parametrize(("name", "case"), sorted(_allocation_cases().items()))
def test_allocate_refuses_a_nasty_inputs_file_with_file_and_line(
        tmp_path: Path, name: str, case: tuple[bytes, str]) -> None:
    path = _write(tmp_path, name, case[0])
    result = CliRunner().invoke(app, ["allocate", "--config", str(path), "--period", "2020-06",
                                      "--out", str(tmp_path / "out"), "--energy-csv",
                                      str(tmp_path / "none.csv")])
    assert isinstance(result.exception, SystemExit), result.exception
    _refused_cleanly(path, result.exit_code, result.output, case[1])
    assert not (tmp_path / "out").exists()


def test_as_real_processes_nothing_but_the_message_reaches_the_terminal(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    bomb, says = _config_cases()["alias-bomb"]
    path = _write(tmp_path, "bomb", bomb)
    done = subprocess.run([sys.executable, "-m", "pvrelief", "check-config", str(path)],
                          capture_output=True, text=True, env=env, timeout=120)
    _refused_cleanly(path, done.returncode, done.stdout + done.stderr, says)
    cut, says = _allocation_cases()["cut-chinese"]
    path = _write(tmp_path, "cut", cut)
    done = subprocess.run([sys.executable, "-m", "pvrelief", "allocate", "--config", str(path),
                           "--period", "2020-06", "--out", str(tmp_path / "out")],
                          capture_output=True, text=True, env=env, timeout=120)
    _refused_cleanly(path, done.returncode, done.stdout + done.stderr, says)
