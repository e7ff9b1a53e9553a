"""Collector errors, by what a caller can do about them.

CollectorError
 +-- SourceError      a device or broker could not be read (retry later, per device)
 |    +-- DeviceTimeout       no answer within the timeout
 |    +-- DeviceException     the device answered with a Modbus exception code
 +-- DecodeError      bytes arrived but do not make a reading (drop them, count them)
 |    +-- BadInput            an MQTT message that makes no reading, with the reason counted
 +-- BrokerError      the MQTT broker cannot be reached or dropped us (reconnect with backoff)
 |    +-- BrokerAuthError     it refused our user, password or certificate: loud, config fix
 +-- SinkError        a reading could not be delivered (keep it, retry)
      +-- SinkAuthError       401/403: retrying will not help until the config is fixed

pymodbus, aiomqtt and httpx exceptions are mapped to these inside their adapters only.
"""

from __future__ import annotations


class CollectorError(Exception):
    pass


class SourceError(CollectorError):
    def __init__(self, device: str, message: str) -> None:
        super().__init__(f"device {device}: {message}")
        self.device = device


class DeviceTimeout(SourceError):
    pass


class DeviceException(SourceError):
    def __init__(self, device: str, code: int, address: int) -> None:
        super().__init__(device, f"Modbus exception {code} reading address {address}")
        self.code = code
        self.address = address


class DecodeError(CollectorError):
    pass


class SinkError(CollectorError):
    pass


class SinkAuthError(SinkError):
    pass


# Sink errors added with the durable sink (issue 4). What the caller does about each:
#   SinkUnavailable    network error, timeout, 5xx, 429: keep the data, back off, retry
#   SinkRejected       400/413: the server refused some lines; isolate and quarantine them
#   SinkTargetMissing  404: no such database/bucket; loud, data kept, retried slowly
#   SinkRefused        400 about the request, not its lines (a setting): loud, data kept
#   SpoolError         the spool folder cannot be used (locked by another process, unwritable)
class SinkUnavailable(SinkError):
    def __init__(self, message: str, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class SinkRejected(SinkError):
    def __init__(self, reason: str) -> None:
        super().__init__(f"InfluxDB rejected lines: {reason}")
        self.reason = reason


class SinkTargetMissing(SinkError):
    pass


class SinkRefused(SinkError):
    pass


class SpoolError(SinkError):
    pass


class BadInput(DecodeError):
    """``reason`` is a short label (the self-metrics count per reason); ``detail`` says more."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


class BrokerError(CollectorError):
    pass


class BrokerAuthError(BrokerError):
    pass
