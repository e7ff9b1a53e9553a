"""Report errors: a report could not be made (say why, name the plant or the source)."""

from __future__ import annotations


class ReportError(Exception):
    pass
