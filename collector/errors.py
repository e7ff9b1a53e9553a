"""Collector errors, by what a caller can do about them.

CollectorError
 +-- SourceError      a device or broker could not be read (retry later, per device)
 |    +-- DeviceTimeout       no answer within the timeout
 |    +-- DeviceException     the device answered with a Modbus exception code
 +-- DecodeError      bytes arrived but do not make a reading (drop them, count them)
 |    +-- BadInput            an MQTT message that makes no reading, with the reason counted
 +-- BrokerError      the MQTT broker cannot be reached or dropped us (reconnect with backoff)
 |    +-- BrokerAuthError     it refused our user, password or certificate: loud, config fix
 +-- SinkError        the sink cannot take readings (not running, or closed)
      +-- SpoolError          the spool folder cannot be used (locked by another process,
                              unwritable)

pymodbus and aiomqtt exceptions are mapped to these inside their adapters only. What InfluxDB
answers is influx/errors.py's (Unavailable, Rejected, AuthError, TargetMissing, Refused): the
sink catches those, keeps the data and retries.
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
