"""Spool and quarantine files are the owner's alone: 0600 files in a 0700 folder."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from collector.sinks.quarantine import quarantine
from collector.sinks.spool import Spool
from influx.client import BadLine


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_spool_and_quarantine_files_are_private_whatever_the_umask(tmp_path: Path) -> None:
    old = os.umask(0o022)  # the usual umask: files 0644, folders 0755 unless we say otherwise
    try:
        spool_dir = tmp_path / "state" / "spool"
        spool = Spool(spool_dir, max_bytes=1 << 22, segment_bytes=1 << 16).open()
        spool.append(b"inverter,plant=p1 p=1 1\n", 1, "ns")
        rec = spool.next_record()
        assert rec is not None
        spool.ack(rec)
        spool.save_cursor(force=True)
        spool.close()
        quarantine(spool_dir / "quarantine.jsonl", [BadLine(b"x y=1 1", "bad")], "ns", fsync=False)
    finally:
        os.umask(old)
    assert _mode(spool_dir) == 0o700
    files = sorted(p for p in spool_dir.iterdir())
    assert {p.name for p in files} >= {"lock", "cursor", "quarantine.jsonl"}
    assert any(p.suffix == ".seg" for p in files)
    assert {p.name: _mode(p) for p in files} == {p.name: 0o600 for p in files}


def test_an_older_world_readable_spool_is_tightened_on_open(tmp_path: Path) -> None:
    spool_dir = tmp_path / "spool"
    spool_dir.mkdir(mode=0o755)
    os.chmod(spool_dir, 0o755)
    (spool_dir / "lock").write_text("")
    os.chmod(spool_dir / "lock", 0o644)
    Spool(spool_dir, max_bytes=1 << 22, segment_bytes=1 << 16).open().close()
    assert _mode(spool_dir) == 0o700
    assert _mode(spool_dir / "lock") == 0o600
