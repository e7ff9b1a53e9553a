"""Alarm errors, by what a caller can do about them.

AlarmError
 +-- AckRefused       the alarm cannot be acknowledged (no such id, already taken, closed)
 +-- NotifyError      a notification channel did not take a message (kept, retried later)
      +-- NotifyRejected   it answered, but refused (a robot's non-zero errcode, a 4xx)

State database problems are statedb.errors.StateError. httpx errors are mapped to NotifyError
in alarms/notify/channels.py only.
"""

from __future__ import annotations


class AlarmError(Exception):
    pass


class AckRefused(AlarmError):
    pass


class NotifyError(AlarmError):
    pass


class NotifyRejected(NotifyError):
    pass
