"""Secrets that may come from the environment or a file, and are never printed.

A relative ``file:`` is taken relative to the config file's folder (the loader passes it as
validation context, ``CONFIG_DIR``), not to the working directory: under systemd that is ``/``.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict, SecretStr, ValidationInfo, model_validator

from config.strict import FilePath

CONFIG_DIR = "config_dir"  # validation context key: the folder relative files are in


class Secret(BaseModel):
    """One of ``value``, ``env`` (a variable name) or ``file`` (a path); resolved at load time."""

    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)

    value: SecretStr | None = None
    env: str | None = None
    file: FilePath | None = None

    @model_validator(mode="after")
    def _exactly_one(self, info: ValidationInfo) -> Secret:
        given = [k for k in ("value", "env", "file") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of value, env or file")
        if self.env is not None and self.env not in os.environ:
            raise ValueError(f"environment variable {self.env} is not set")
        base = (info.context or {}).get(CONFIG_DIR)
        if self.file is not None and base is not None and not self.file.is_absolute():
            self.file = Path(base) / self.file
        if self.file is not None:
            try:
                found = self.file.is_file()
            except OSError as e:  # ENAMETOOLONG, EACCES on a folder: is_file() raises those
                raise ValueError(f"secret file {self.file}: {e.strerror}") from None
            if not found:
                raise ValueError(f"secret file {self.file} does not exist")
        return self

    def reveal(self) -> str:
        if self.value is not None:
            return self.value.get_secret_value()
        if self.env is not None:
            return os.environ[self.env]
        assert self.file is not None
        return self.file.read_text().strip()

    def __repr__(self) -> str:
        return "Secret(********)"

    __str__ = __repr__
