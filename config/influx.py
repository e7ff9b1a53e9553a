"""The ``influxdb:`` section: where InfluxDB is and how to authenticate (read by the collector's
sink and by ``pvrelief allocate``, through influx/client.py), then how the sink batches and
spools.

Every accepted reading is appended to the spool (a write-ahead log) before it is sent, so the
spool settings matter even when InfluxDB never fails. See the README's "Delivery guarantees".

Secrets never reach an error message: credentials in ``url`` are refused (they would be
printed wherever the URL is, in log lines and /healthz), and ``hide_input_in_errors`` keeps
pydantic from quoting the refused input.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    HttpUrl,
    ValidationError,
    field_validator,
    model_validator,
)

from config.errors import ConfigError
from config.secrets import CONFIG_DIR, Secret
from config.strict import FilePath
from config.validation import dotted
from config.yaml_loader import Loc, line_of, load_yaml

MIB = 1024 * 1024


class InfluxSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)

    url: HttpUrl = Field(
        HttpUrl("http://127.0.0.1:8086"),
        description="InfluxDB base URL (1.x, 2.x or 3.x); no credentials in it",
    )
    database: str = Field(
        "pvrelief", min_length=1,
        description="v1 database; also the v2 bucket unless bucket is set",
    )
    username: str | None = Field(None, min_length=1, description="basic auth user (api v1)")
    password: Secret | None = Field(
        None, description="basic auth password (a secret; goes with username)",
    )
    token: Secret | None = Field(
        None, description="sent as Authorization: Token ... (2.x/3.x; a secret)",
    )
    precision: Literal["ns", "u", "ms", "s"] = Field(
        "ms", description="timestamp precision of the written points",
    )
    batch_size: int = Field(5000, ge=1, le=100_000, description="points per POST")
    linger_s: float = Field(1.0, gt=0, le=60, description="longest wait before a partial batch")
    timeout_s: float = Field(10.0, gt=0, le=300, description="HTTP timeout of one request")
    create_database: bool = Field(True, description="v1: CREATE DATABASE at start and on a 404")

    # --- write API ---
    api: Literal["v1", "v2"] = Field(
        "v1", description="v1: /write?db=; v2: /api/v2/write?org=&bucket= with a token "
                          "(queries use /query with either)"
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

    @field_validator("url")
    @classmethod
    def _no_credentials(cls, url: HttpUrl) -> HttpUrl:
        # never quote the URL here: the point is that what it holds must not be printed
        if url.username is not None or url.password is not None:
            raise ValueError("the URL must not hold credentials (user:password@): give "
                             "username and password (a secret: value, env or file) instead")
        if url.query or url.fragment:
            raise ValueError("the URL must not have a query string or fragment (InfluxDB "
                             "reads u= and p= there as credentials): give username and "
                             "password, or token, instead")
        return url

    @model_validator(mode="after")
    def _check(self) -> InfluxSettings:
        if self.spool_segment_bytes * 2 > self.spool_max_bytes:
            raise ValueError("spool_segment_bytes must be at most half of spool_max_bytes")
        if self.api == "v2" and not self.org:
            raise ValueError("api: v2 needs org")
        basic = self.username is not None or self.password is not None
        if basic and (self.username is None or self.password is None):
            raise ValueError("username and password go together: give both or neither")
        if basic and self.token is not None:
            raise ValueError("give either username and password or token, not both")
        if basic and self.api == "v2":
            raise ValueError("api: v2 authenticates with a token; username and password work "
                             "only with api: v1 (also on 2.x and 3.x)")
        return self

    @property
    def quarantine_path(self) -> Path:
        return self.quarantine_file or self.spool_dir / "quarantine.jsonl"


class _Section(BaseModel):
    """A config file as far as the influxdb: section goes; the other sections are not read."""

    model_config = ConfigDict(extra="ignore", hide_input_in_errors=True)
    influxdb: InfluxSettings


def load_influx_section(path: Path | None, overrides: Mapping[str, tuple[str, Any]]
                        ) -> InfluxSettings:
    """The ``influxdb:`` section of ``path`` (the collector's config, or any YAML file with
    that section), each key in ``overrides`` (key -> (option name, value)) replacing the file's.

    Loaded with the config loader's YAML reader (duplicate keys refused) and validated by the
    same model as the collector's, secrets included; only this section is read, so devices and
    profiles are neither loaded nor checked. Raises ConfigError naming file:line or the option.
    """
    source = str(path) if path is not None else "the command line"
    data: dict[str, Any] = {}
    lines: dict[Loc, int] = {}
    context = {}
    if path is not None:
        raw, lines = load_yaml(path)
        section = raw.get("influxdb") if isinstance(raw, dict) else None
        if not isinstance(section, dict):
            raise ConfigError(f"{path}:{line_of(lines, ('influxdb',)) or 1}: needs an "
                              f"`influxdb:` section (a mapping) to take the InfluxDB settings "
                              f"from")
        data = dict(section)
        context[CONFIG_DIR] = path.resolve().parent  # secret files relative to the file
    data.update({key: value for key, (_, value) in overrides.items()})
    try:
        return _Section.model_validate({"influxdb": data}, context=context).influxdb
    except ValidationError as e:
        problems = []
        for err in e.errors():
            loc = tuple(p for p in err["loc"] if not (isinstance(p, str)
                                                     and p.startswith("function-")))
            msg = err["msg"].removeprefix("Value error, ")
            key = loc[1] if len(loc) > 1 else None
            if isinstance(key, str) and key in overrides:
                problems.append(f"{overrides[key][0]}: {msg}")
            else:
                line = line_of(lines, loc) if path is not None else None
                where = f"{source}:{line}" if line else source
                problems.append(f"{where}: {dotted(loc)}: {msg}")
        raise ConfigError("\n".join(problems), problems) from None
