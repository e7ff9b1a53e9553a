"""KPI errors.

KpiError
 +-- PeriodError    the period or plant asked for does not exist (fix the command line)

InfluxDB's are influx.errors.QueryError (reading) and collector.errors.SinkError (writing).
"""

from __future__ import annotations


class KpiError(Exception):
    pass


class PeriodError(KpiError, ValueError):
    pass
