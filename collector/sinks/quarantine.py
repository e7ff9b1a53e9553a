"""Lines InfluxDB refused (400), kept as JSON lines with the server's reason.

One object per line: ``{"time": ISO-8601 UTC, "reason": ..., "precision": ..., "line": ...}``.
After fixing the cause (for example a field type conflict) an operator can re-send them:
``jq -r .line quarantine.jsonl | curl --data-binary @- 'http://host:8086/write?db=...'``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

from collector.sinks.spool_files import open_private, private_dir
from influx.client import BadLine


def quarantine(path: Path, bad: Iterable[BadLine], precision: str, fsync: bool) -> int:
    now = datetime.now(UTC).isoformat(timespec="milliseconds")
    text = "".join(
        json.dumps({"time": now, "reason": b.reason, "precision": precision,
                    "line": b.line.decode("utf-8", "replace")}, ensure_ascii=False) + "\n"
        for b in bad
    )
    if not text:
        return 0
    private_dir(path.parent)
    fd = open_private(path, os.O_WRONLY | os.O_APPEND)
    try:
        os.write(fd, text.encode())
        if fsync:
            os.fsync(fd)
    finally:
        os.close(fd)
    return text.count("\n")
