"""InfluxDB errors, by what a caller can do about them.

InfluxError
 +-- Unavailable     network error, timeout, 5xx, 429, an answer that is not InfluxDB's:
 |                   keep the data and retry later (``retry_after_s`` when the server said)
 +-- Rejected        400/413/422 about the lines themselves (parse error, field type conflict,
 |                   body too large): isolate the bad lines; resending them will not help
 +-- AuthError       401/403: the credentials are wrong or lack a privilege; fix the config
 +-- TargetMissing   404, or "database not found": no such database/bucket (or endpoint)
 +-- Refused         400 about the request, not its lines (a setting), or an InfluxQL error
 +-- LineProtocolError  a value line protocol cannot carry faithfully; raised before any I/O

httpx exceptions are mapped to these only in influx/client.py. No message here ever holds a
secret: the URL is refused at config load when it carries credentials, passwords and tokens
travel in headers only, and the server's own words never echo them.
"""

from __future__ import annotations


class InfluxError(Exception):
    """Root of every error this package raises on purpose."""


class Unavailable(InfluxError):
    def __init__(self, message: str, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class Rejected(InfluxError):
    def __init__(self, reason: str) -> None:
        super().__init__(f"InfluxDB rejected lines: {reason}")
        self.reason = reason


class AuthError(InfluxError):
    pass


class TargetMissing(InfluxError):
    pass


class Refused(InfluxError):
    pass


class LineProtocolError(InfluxError, ValueError):
    """A measurement, tag, field name or value that line protocol cannot represent."""


# What a command that only reads (pvrelief alarms show, pvrelief kpi) catches: any of the above.
QueryError = InfluxError
