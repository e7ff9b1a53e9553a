"""Secrets that may come from the environment or a file, and are never printed."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict, SecretStr, model_validator


class Secret(BaseModel):
    """One of ``value``, ``env`` (a variable name) or ``file`` (a path); resolved at load time."""

    model_config = ConfigDict(extra="forbid")

    value: SecretStr | None = None
    env: str | None = None
    file: Path | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Secret:
        given = [k for k in ("value", "env", "file") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of value, env or file")
        if self.env is not None and self.env not in os.environ:
            raise ValueError(f"environment variable {self.env} is not set")
        if self.file is not None and not self.file.is_file():
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
