"""InfluxDB errors raised by the query side (the write side maps to collector.errors).

InfluxError
 +-- QueryError     the server answered with an error, or could not be reached
"""

from __future__ import annotations


class InfluxError(Exception):
    pass


class QueryError(InfluxError):
    pass
