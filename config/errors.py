"""Configuration errors: each message names the file, the line and the field.

    ConfigError     the config, a device profile or a catalog is invalid (``problems``: all)
    └── YamlError   a YAML file cannot be read as plain data: encoding, syntax, a tag, a
                    duplicate key, a limit; one problem, ``file:line: message``
"""

from __future__ import annotations


class ConfigError(Exception):
    """The configuration (or a device profile) is invalid. ``problems`` lists every finding."""

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems = problems or [message]


class YamlError(ConfigError):
    """A YAML file (any, allocation inputs included) is not plain, bounded, well-formed data."""
