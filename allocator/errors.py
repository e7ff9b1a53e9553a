"""Errors of the allocator, by what the caller can do about them.

    AllocatorError          anything the allocator refuses to do; never a half-written result
    ├── InputError          the allocation YAML is wrong: fix the file (names plant, days, line)
    ├── EnergyError         energy data is missing or unusable: fix the meter data or give a CSV
    ├── BoundsError         a number is too large for the exact integer path (documented bounds)
    └── OutputError         results could not be written (disk, InfluxDB)
"""

from __future__ import annotations


class AllocatorError(Exception):
    """Root of every error the allocator raises on purpose."""


class InputError(AllocatorError):
    """The allocation inputs are invalid."""


class EnergyError(AllocatorError):
    """Energy for a plant and day is missing, negative or otherwise unusable."""


class BoundsError(AllocatorError):
    """A value exceeds the bounds under which the integer computation is proven exact."""


class OutputError(AllocatorError):
    """An output could not be written."""
