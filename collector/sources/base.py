"""What every source is: something that produces readings and hands them on until stopped.

A source does not know what happens to its readings: the runner builds it with ``emit``, which runs
the pipeline's stages (counter guard, then alarms) and hands the result to every sink. A
source's own problems (a device silent, a broker gone) stay inside it: it logs them once per
change, backs off and goes on; ``emit`` raising means a stage or sink failed, which the source
counts as a failed poll or message and survives.

Today: ``collector.sources.modbus.ModbusSource`` and ``collector.sources.mqtt.source.MqttSource``.
A new protocol goes in a folder of its own under ``collector/sources/``; a polled one reuses
``collector.sources.polling``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

from collector.reading import Reading

# hands readings to the pipeline; returning means every sink accepted them
Emit = Callable[[Sequence[Reading]], Awaitable[None]]


class Source(Protocol):
    """Built with the ``emit`` it hands its readings to; produces between start and stop."""

    name: str

    async def start(self) -> None:
        """Begin producing; return once running (not when done)."""
        ...

    async def stop(self, timeout_s: float) -> None:
        """Stop producing within ``timeout_s``; nothing emitted after it returns."""
        ...
