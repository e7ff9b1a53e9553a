"""Alarms for field technicians: detectors, a lifecycle kept in SQLite, notifications."""
