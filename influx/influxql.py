"""Quoting for InfluxQL statements built from data (plant and device ids, database names).

Inside a quoted identifier or string literal InfluxQL reads ``\\`` as a backslash and ``\\"``
or ``\\'`` as the quote, so those two are escaped and nothing else needs to be.
"""

from __future__ import annotations

import re

# CREATE USER ... WITH PASSWORD '...' and SET PASSWORD FOR ... = '...'
_PASSWORD = re.compile(r"(PASSWORD\b[^']*)'(?:[^'\\]|\\.)*'", re.IGNORECASE)


def quote_ident(name: str) -> str:
    """A database, measurement, tag or field name: ``"name"``."""
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def quote_literal(value: str) -> str:
    """A string to compare a tag with: ``'value'``."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def redact(statement: str) -> str:
    """The statement as an error message may show it: password literals replaced."""
    return _PASSWORD.sub(r"\1'********'", statement)
