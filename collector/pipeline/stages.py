"""The pipeline: every reading from every source passes the same stages, then every sink.

Order (fixed, and documented in the README):

1. ``plausibility``: a value outside its field's physical bounds becomes invalid (see
   ``plausibility.py``), so no garbage word becomes a counter's reference;
2. ``counters``: the counter guard (energy counters only rise; see ``counters.py``);
3. ``alarms`` (collector/alarms/stage.py): they must see counters already judged, or a
   counter dip would raise both a data-quality alarm and a false "energy fell" one.

A stage is synchronous and quick: it looks at a batch and returns the batch to pass on (the
same readings, or replacements with some fields made invalid). Slow work (a notification, a
database) belongs in a task of the stage's own, fed by a queue, so that a slow receiver never
holds up polling. Sinks get the batch in order; a sink's ``put`` returns once the readings are
safe with it (in memory within its linger bound, or on disk).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from collector.reading import Reading
from collector.sinks.base import Sink
from timebase.clock import Clock


class Stage(Protocol):
    name: str

    def process(self, readings: list[Reading]) -> list[Reading]: ...


@runtime_checkable
class RunningStage(Stage, Protocol):
    """A stage with tasks of its own (a timer, a database writer), started after the sinks
    and stopped before them; it may hand readings of its own to the sinks (``deliver``)."""

    async def start(self, pipeline: Pipeline, clock: Clock) -> None: ...

    async def stop(self) -> None: ...


class Pipeline:
    def __init__(self, stages: Sequence[Stage], sinks: Sequence[Sink]) -> None:
        self.stages = list(stages)
        self.sinks = list(sinks)

    async def put(self, readings: Sequence[Reading]) -> None:
        batch = list(readings)
        for stage in self.stages:
            batch = stage.process(batch)
        for sink in self.sinks:
            await sink.put(batch)

    async def deliver(self, readings: Sequence[Reading]) -> None:
        """Hand a stage's own readings (alarm transitions) to every sink, past the stages."""
        batch = list(readings)
        for sink in self.sinks:
            await sink.put(batch)
    def flush(self) -> None:
        """Every sink that batches in memory moves its batch to disk now (``flush()``): the
        MQTT source calls it before it acknowledges messages to the broker."""
        for sink in self.sinks:
            flush = getattr(sink, "flush", None)
            if flush is not None:
                flush()

    def stage(self, name: str) -> Stage:
        return next(s for s in self.stages if s.name == name)
