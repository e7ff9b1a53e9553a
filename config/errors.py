"""Configuration errors: each message names the file, the line and the field."""

from __future__ import annotations


class ConfigError(Exception):
    """The configuration (or a device profile) is invalid. ``problems`` lists every finding."""

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems = problems or [message]
