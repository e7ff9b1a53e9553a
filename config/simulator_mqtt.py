"""Settings of the simulator's MQTT side (`simulator.mqtt:`): plants that push, and the uplink.

A plant listed in ``plants`` has its ``protocol: mqtt`` devices published by the simulator in
one of three shapes: ``pvrelief`` (as an edge collector would), ``json`` (a third-party
logger's JSON object per device) or ``per-topic`` (a logger's one value per topic). Devices
of plants not listed are published as ``pvrelief`` every 60 simulated seconds.

``cuts`` are windows in which the plants' 4G uplink is down: the simulated publishers cannot
reach the broker and keep what they produce until it is back. With ``uplink_port`` the
simulator also serves the same cuttable uplink as a TCP relay to the broker, for a real edge
collector to connect through (its ``mqtt.port``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import ConfigDict, Field, field_validator, model_validator

from config.strict import Id, Strict

Shape = Literal["pvrelief", "json", "per-topic"]


class SimMqttPlant(Strict):
    plant: Id = Field(description="a plant whose protocol: mqtt devices the simulator publishes")
    shape: Shape = Field("pvrelief", description="pvrelief (an edge), json or per-topic (a "
                                                 "logger)")
    interval_s: float = Field(60.0, gt=0, le=86_400,
                              description="simulated seconds between two publishes of a device")
    prefix: str | None = Field(None, description="first topic level (default: mqtt.topic_prefix "
                                                 "for pvrelief, sunlog for the logger shapes)")


class UplinkCut(Strict):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    from_: float | datetime = Field(
        alias="from", description="an instant with a UTC offset, or seconds after the start")
    until: float | datetime = Field(description="the end (same forms)")

    @field_validator("from_", "until")
    @classmethod
    def _aware(cls, v: float | datetime) -> float | datetime:
        if isinstance(v, datetime) and v.tzinfo is None:
            raise ValueError("an instant needs a UTC offset, e.g. 2020-06-21T12:00:00+08:00")
        return v


class SimMqttSettings(Strict):
    plants: list[SimMqttPlant] = Field(default_factory=list,
                                       description="how each pushing plant publishes")
    cuts: list[UplinkCut] = Field(default_factory=list,
                                  description="windows in which the plants' uplink is down")
    uplink_port: int | None = Field(
        None, ge=0, le=65535,
        description="serve the cuttable uplink to the broker here, for an edge collector")

    @model_validator(mode="after")
    def _unique(self) -> SimMqttSettings:
        ids = [p.plant for p in self.plants]
        if len(ids) != len(set(ids)):
            raise ValueError("a plant is listed twice under simulator.mqtt.plants")
        return self
