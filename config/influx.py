"""Settings of the InfluxDB sink: where to write, how to batch, and the on-disk spool.

Every accepted reading is appended to the spool (a write-ahead log) before it is sent, so the
spool settings matter even when InfluxDB never fails. See collector/README-delivery.md.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, model_validator

from config.secrets import Secret
from config.strict import FilePath

MIB = 1024 * 1024


class InfluxSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: HttpUrl = Field(
        HttpUrl("http://127.0.0.1:8086"),
        description="InfluxDB base URL (1.x, 2.x with v1 compatibility, or 3.x)",
    )
    database: str = Field(
        "pvrelief", min_length=1,
        description="v1 database; also the v2 bucket unless bucket is set",
    )
    username: str | None = Field(None, description="v1 basic auth user")
    password: Secret | None = Field(None, description="v1 basic auth password (a secret)")
    token: Secret | None = Field(
        None, description="sent as Authorization: Token ... (2.x/3.x; a secret)",
    )
    precision: Literal["ns", "u", "ms", "s"] = Field(
        "ms", description="timestamp precision of the written points",
    )
    batch_size: int = Field(5000, ge=1, le=100_000, description="points per POST")
    linger_s: float = Field(1.0, gt=0, le=60, description="longest wait before a partial batch")
    timeout_s: float = Field(10.0, gt=0, le=300, description="HTTP timeout of one POST")
    create_database: bool = Field(True, description="v1: CREATE DATABASE at start and on a 404")

    # --- write API ---
    api: Literal["v1", "v2"] = Field(
        "v1", description="v1: /write?db=; v2: /api/v2/write?org=&bucket= with a token"
    )
    org: str | None = Field(None, description="v2 only: the organisation")
    bucket: str | None = Field(None, description="v2 only: the bucket (default: database)")
    gzip: bool = Field(False, description="gzip request bodies (worth it on 4G links)")
    max_inflight: int = Field(2, ge=1, le=16, description="concurrent POSTs")

    # --- retries ---
    retry_initial_s: float = Field(0.5, gt=0, le=60, description="first backoff delay")
    retry_max_s: float = Field(30.0, gt=0, le=3600, description="backoff cap")
    close_timeout_s: float = Field(
        5.0, ge=0, le=300, description="on shutdown, how long to keep delivering the backlog"
    )

    # --- spool (write-ahead log on disk) ---
    spool_dir: FilePath = Field(Path("var/spool/influx"), description="folder of the spool")
    spool_max_bytes: int = Field(
        1024 * MIB, ge=4 * MIB, description="size cap; above it the oldest segment is dropped"
    )
    spool_segment_bytes: int = Field(16 * MIB, ge=64 * 1024, description="segment file size")
    fsync: Literal["always", "interval", "never"] = Field(
        "interval", description="always: after each batch; interval: every fsync_interval_s"
    )
    fsync_interval_s: float = Field(1.0, gt=0, le=300, description="with fsync: interval")
    quarantine_file: FilePath | None = Field(
        None, description="lines InfluxDB refused (default: <spool_dir>/quarantine.jsonl)"
    )

    @model_validator(mode="after")
    def _check(self) -> InfluxSettings:
        if self.spool_segment_bytes * 2 > self.spool_max_bytes:
            raise ValueError("spool_segment_bytes must be at most half of spool_max_bytes")
        if self.api == "v2" and not self.org:
            raise ValueError("api: v2 needs org")
        return self

    @property
    def quarantine_path(self) -> Path:
        return self.quarantine_file or self.spool_dir / "quarantine.jsonl"
