"""Log output: human-readable lines by default, one JSON object per line on request.

A service manager's journal reads the text form well; a log pipeline (Loki, Elasticsearch,
journald's JSON export) wants fields it need not parse out of text, hence ``--log-format json``:
each record is ``{"ts", "level", "logger", "msg"}``, plus ``exc`` with the traceback if any.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Literal

import typer

LogFormat = Literal["text", "json"]
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
LOG_FORMAT_HELP = "text (human-readable) or json (one object per line, for log pipelines)"


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False)


def log_format_option(text: str) -> LogFormat:
    """``--log-format``'s value, checked."""
    if text not in ("text", "json"):
        raise typer.BadParameter(f"{text!r}: text or json", param_hint="--log-format")
    return "json" if text == "json" else "text"


def setup_logging(verbose: bool, log_format: LogFormat = "text") -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if log_format == "json" else
                         logging.Formatter(TEXT_FORMAT))
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, handlers=[handler],
                        force=True)
    logging.getLogger("pymodbus").setLevel(logging.CRITICAL)  # we log its failures ourselves
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per POST is noise
