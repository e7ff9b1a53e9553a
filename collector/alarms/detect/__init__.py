"""Alarm detectors: each looks at readings (or the clock) and sends signals to the lifecycle.

A detector keeps only what it needs to judge a condition (since when a value is beyond a
limit, the last value seen); whether an alarm is open is the lifecycle's to say
(``Lifecycle.needs``), so a detector restarted with an empty memory still clears the alarms
it finds open.
"""
