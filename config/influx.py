"""Settings of the InfluxDB sink (spoken to through its v1-compatible HTTP API)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, HttpUrl

from config.secrets import Secret


class InfluxSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: HttpUrl = HttpUrl("http://127.0.0.1:8086")
    database: str = Field("pvrelief", min_length=1)
    username: str | None = None
    password: Secret | None = None
    token: Secret | None = None  # InfluxDB 2.x/3.x: sent as "Authorization: Token ..."
    precision: Literal["ns", "u", "ms", "s"] = "ms"
    batch_size: int = Field(5000, ge=1, le=100_000, description="points per POST")
    linger_s: float = Field(1.0, gt=0, le=60, description="longest wait before a partial batch")
    timeout_s: float = Field(10.0, gt=0, le=300)
    create_database: bool = True  # issue CREATE DATABASE at start (1.x; ignored by 2.x/3.x)
