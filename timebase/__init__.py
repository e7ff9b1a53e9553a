"""The time base shared by the simulator and the collector: wall time, or simulated time."""

from timebase.clock import Clock

__all__ = ["Clock"]
