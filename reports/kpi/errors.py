"""KPI errors.

KpiError
 +-- PeriodError    the period or plant asked for does not exist (fix the command line)

InfluxDB's are influx.errors.InfluxError (QueryError is the same class), reading and writing.
"""

from __future__ import annotations


class KpiError(Exception):
    pass


class PeriodError(KpiError, ValueError):
    pass
