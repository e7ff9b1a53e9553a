"""Settings of the MQTT broker connection (telemetry intake from data loggers, alarm output)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from config.secrets import Secret


class MqttSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    host: str = "127.0.0.1"
    port: int = Field(1883, ge=1, le=65535)
    username: str | None = None
    password: Secret | None = None
    client_id: str = "pvrelief"
    topic_prefix: str = "pvrelief"
    keepalive_s: int = Field(30, ge=5, le=3600)
