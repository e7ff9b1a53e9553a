"""Bad MQTT input: counted per reason, logged at most once a minute per reason, kept or dropped.

Every message (or value) refused is counted in ``pvrelief_mqtt_bad_input_total{reason=...}``.
The first of each reason is logged at WARNING with its topic and what was wrong; later ones
within a minute are only counted, and the next log line says how many were held back, so a
logger that sends garbage every second cannot flood the log. With ``mqtt.bad_input_file`` the
refused message is also kept, as a JSON line with the reason (the payload cut to 4 KiB), until
the file reaches 64 MiB.
"""

from __future__ import annotations

import json
import logging
import os
import time
from datetime import UTC, datetime
from pathlib import Path

from collector.metrics import Metrics

log = logging.getLogger(__name__)

LOG_EVERY_S = 60.0
KEEP_PAYLOAD = 4096
QUARANTINE_MAX_BYTES = 64 * 1024 * 1024


class BadInputLog:
    def __init__(self, metrics: Metrics, quarantine: Path | None = None,
                 every_s: float = LOG_EVERY_S) -> None:
        self.metrics = metrics
        self.quarantine = quarantine
        self.every_s = every_s
        self._logged: dict[str, float] = {}
        self._held: dict[str, int] = {}
        self._full = False

    def record(self, reason: str, topic: str, detail: str, payload: bytes | None = None) -> None:
        self.metrics.inc_bad_input(reason)
        now = time.monotonic()
        last = self._logged.get(reason)
        if last is None or now - last >= self.every_s:
            held = self._held.pop(reason, 0)
            more = f" ({held} more like it since the last report)" if held else ""
            log.warning("MQTT bad input (%s) on topic %s: %s%s", reason, topic[:200], detail, more)
            self._logged[reason] = now
        else:
            self._held[reason] = self._held.get(reason, 0) + 1
        if self.quarantine is not None and payload is not None:
            self._keep(reason, topic, detail, payload)

    def _keep(self, reason: str, topic: str, detail: str, payload: bytes) -> None:
        path = self.quarantine
        assert path is not None
        try:
            if path.exists() and path.stat().st_size >= QUARANTINE_MAX_BYTES:
                if not self._full:
                    log.error("MQTT bad-input file %s is full (%d bytes): bad messages are only "
                              "counted from now on", path, QUARANTINE_MAX_BYTES)
                self._full = True
                return
            line = json.dumps({
                "time": datetime.now(UTC).isoformat(timespec="milliseconds"), "reason": reason,
                "topic": topic[:1000], "detail": detail, "bytes": len(payload),
                "payload": payload[:KEEP_PAYLOAD].decode("utf-8", "replace"),
            }, ensure_ascii=False) + "\n"
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                os.write(fd, line.encode())
            finally:
                os.close(fd)
        except OSError as e:
            log.error("cannot keep a bad MQTT message in %s: %s", path, e)
