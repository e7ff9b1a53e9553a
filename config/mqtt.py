"""Settings of the MQTT broker connection: the edge sink (`publish:`) and the central source.

One broker connection per role: an edge collector publishes its readings (``publish:``), a
central collector subscribes (``subscriptions:``), and one process may do both. Payload
mappings (how a message becomes a reading) are YAML data in ``config/mappings/``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from config.secrets import CONFIG_DIR, Secret
from config.strict import Host, Strict

MIB = 1024 * 1024
# what may not appear in one topic level we build or a filter's plain levels
_TOPIC_BAD = set("+#\x00")


def _relative_to_config(path: Path | None, info: ValidationInfo) -> Path | None:
    base = (info.context or {}).get(CONFIG_DIR)
    if path is not None and base is not None and not path.is_absolute():
        return Path(base) / path
    return path


class MqttTls(Strict):
    """TLS to the broker: the CA that signed its certificate, and optionally our own."""

    ca_file: Path = Field(description="CA certificate (PEM) the broker's certificate must chain to")
    cert_file: Path | None = Field(None, description="client certificate (PEM), if the broker "
                                                     "asks for one")
    key_file: Path | None = Field(None, description="the client certificate's private key (PEM)")
    check_hostname: bool = Field(True, description="the broker's certificate must name its host")

    @field_validator("ca_file", "cert_file", "key_file")
    @classmethod
    def _exists(cls, v: Path | None, info: ValidationInfo) -> Path | None:
        v = _relative_to_config(v, info)
        if v is not None and not v.is_file():
            raise ValueError(f"file {v} does not exist")
        return v

    @model_validator(mode="after")
    def _pair(self) -> MqttTls:
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("give cert_file and key_file together")
        return self


class MqttPublish(Strict):
    """The edge sink: every reading to ``<prefix>/<site>/<plant>/<device>/reading`` at QoS 1."""

    with_influxdb: bool = Field(
        False, description="also run the InfluxDB sink (beside it); false: instead of it")
    spool_dir: Path = Field(Path("var/spool/mqtt"), description="folder of the MQTT spool")
    spool_max_bytes: int = Field(
        256 * MIB, ge=4 * MIB, description="size cap; above it the oldest segment is dropped")
    spool_segment_bytes: int = Field(4 * MIB, ge=64 * 1024, description="segment file size")
    fsync: Literal["always", "interval", "never"] = Field(
        "interval", description="always: after each batch; interval: every fsync_interval_s")
    fsync_interval_s: float = Field(1.0, gt=0, le=300, description="with fsync: interval")
    batch_size: int = Field(500, ge=1, le=50_000, description="readings per spool record")
    linger_s: float = Field(0.5, gt=0, le=60, description="longest wait before a partial batch")
    max_inflight: int = Field(
        100, ge=1, le=65_535, description="QoS 1 messages sent and not yet acknowledged")
    publish_timeout_s: float = Field(
        30.0, gt=0, le=600, description="a PUBACK not back within this long: reconnect, resend")
    close_timeout_s: float = Field(
        5.0, ge=0, le=300, description="on shutdown, how long to keep publishing the backlog")

    @model_validator(mode="after")
    def _segments(self) -> MqttPublish:
        if self.spool_segment_bytes * 2 > self.spool_max_bytes:
            raise ValueError("spool_segment_bytes must be at most half of spool_max_bytes")
        return self


class Subscription(Strict):
    """A topic filter the central collector subscribes to, and how its payloads are read."""

    topic: str = Field(min_length=1, description="MQTT topic filter, e.g. pvrelief/+/+/+/reading")
    mapping: str = Field(min_length=1, description="a payload mapping from config/mappings")

    @field_validator("topic")
    @classmethod
    def _filter(cls, v: str) -> str:
        if v.startswith("$share/"):
            raise ValueError("write the plain filter; mqtt.share_group adds $share/<group>/")
        levels = v.split("/")
        for i, level in enumerate(levels):
            if level == "#" and i != len(levels) - 1:
                raise ValueError("'#' may only be the last level")
            if level not in ("+", "#") and _TOPIC_BAD & set(level):
                raise ValueError(f"level {level!r}: + and # must stand alone in a level")
        return v


class MqttSettings(Strict):
    host: Host = Field("127.0.0.1", description="broker hostname, IPv4 or IPv6 address")
    port: int = Field(1883, ge=1, le=65535, description="broker port (8883 is usual with TLS)")
    username: str | None = Field(None, description="broker user")
    password: Secret | None = Field(None, description="broker password (a secret)")
    tls: MqttTls | None = Field(None, description="TLS to the broker (none: plain TCP)")
    client_id: str = Field(
        "pvrelief", pattern=r"^[A-Za-z0-9_.\-]{1,100}$",
        description="MQTT client id; the sink adds -pub, the source -sub (unique per process)")
    topic_prefix: str = Field("pvrelief", min_length=1, description="first level of every topic")
    keepalive_s: int = Field(30, ge=5, le=3600, description="MQTT keepalive")
    timeout_s: float = Field(
        10.0, gt=0, le=300, description="longest wait for the broker to answer CONNECT or "
                                        "SUBSCRIBE")
    reconnect_initial_s: float = Field(0.5, gt=0, le=60, description="first reconnect delay")
    reconnect_max_s: float = Field(60.0, gt=0, le=3600, description="reconnect backoff cap")

    # --- edge: the sink ---
    publish: MqttPublish | None = Field(
        None, description="publish readings (the edge sink); none: no MQTT sink")

    # --- centre: the source ---
    subscriptions: list[Subscription] = Field(
        default_factory=list, description="topic filters to read readings from (the source)")
    share_group: str | None = Field(
        None, pattern=r"^[A-Za-z0-9_\-]+$",
        description="subscribe as $share/<group>/<topic>: collectors in one group split the "
                    "stream")
    session_expiry_s: int = Field(
        7 * 86_400, ge=0, le=0xFFFFFFFE,
        description="how long the broker keeps our session (and queues for it) while away")
    receive_maximum: int = Field(
        5000, ge=1, le=65_535,
        description="unacknowledged messages the broker may send us (how much of a backlog "
                    "is in memory at once)")
    max_payload_bytes: int = Field(
        256 * 1024, ge=1024, le=256 * MIB, description="larger payloads are bad input")
    max_future_s: float = Field(
        600.0, ge=0, description="a timestamp further ahead of our clock is bad input")
    max_age_s: float = Field(
        90 * 86_400.0, gt=0, description="a timestamp older than this is bad input")
    bad_input_file: Path | None = Field(
        None, description="keep bad messages here (JSON lines with the reason); none: drop")

    @field_validator("topic_prefix")
    @classmethod
    def _prefix(cls, v: str) -> str:
        if _TOPIC_BAD & set(v) or v.startswith("$") or " " in v:
            raise ValueError("no +, #, spaces or leading $ in the topic prefix")
        return v.strip("/")
