"""Settings of the MQTT broker connection (telemetry intake from data loggers, alarm output)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from config.secrets import Secret
from config.strict import Host


class MqttSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    host: Host = Field("127.0.0.1", description="broker hostname, IPv4 or IPv6 address")
    port: int = Field(1883, ge=1, le=65535, description="broker port")
    username: str | None = Field(None, description="broker user")
    password: Secret | None = Field(None, description="broker password (a secret)")
    client_id: str = Field("pvrelief", description="MQTT client id")
    topic_prefix: str = Field("pvrelief", description="first level of every topic")
    keepalive_s: int = Field(30, ge=5, le=3600, description="MQTT keepalive")
