"""State database errors, by what a caller can do about them.

StateError           the state folder or database cannot be used (fix the path or rights)
 +-- StateLocked     another collector holds the state folder (stop it, or give this one its own)
 +-- SchemaError     the database is newer than this code, or a migration failed (upgrade)

sqlite3 errors are mapped to these in statedb/db.py and statedb/migrations.py only.
"""

from __future__ import annotations


class StateError(Exception):
    pass


class StateLocked(StateError):
    pass


class SchemaError(StateError):
    pass
