"""What every sink is: it takes readings and keeps them safe until they are delivered.

``put`` returning means the readings are the sink's responsibility (the InfluxDB sink: in its
memory batch for at most ``linger_s``, or in its on-disk spool). ``close`` delivers or keeps
what it holds, bounded in time. A sink that batches in memory also has ``flush()``: move the
batch to disk now (the MQTT source calls it, through ``Pipeline.flush``, before it acknowledges
messages to the broker). Today: ``collector.sinks.influx.InfluxSink`` and
``collector.sinks.mqtt.MqttSink``; a new sink goes in ``collector/sinks/`` and is built from the
config in ``collector.runner.build_sinks``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

from collector.reading import Reading


class Sink(Protocol):
    async def start(self) -> None: ...

    async def put(self, readings: Sequence[Reading]) -> None: ...

    async def close(self) -> None: ...


class CallbackSink:
    """A sink that hands each batch to a function: for tests, the demo and tools."""

    def __init__(self, deliver: Callable[[Sequence[Reading]], Awaitable[None]]) -> None:
        self._deliver = deliver

    async def start(self) -> None:
        return None

    async def put(self, readings: Sequence[Reading]) -> None:
        await self._deliver(readings)

    async def close(self) -> None:
        return None
