"""Grafana's InfluxQL macro substitution, as Grafana 11 does it before sending a raw query.

- ``$timeFilter`` -> ``time >= <from>ms and time <= <to>ms`` (epoch milliseconds)
- ``${__to}`` / ``${__from}`` -> the range's end / start in epoch milliseconds
- ``$__interval`` -> a duration such as ``1m`` (Grafana: range / max data points, never below
  the datasource's ``timeInterval``, 60s in our provisioning)
- a multi-value or include-all variable inside a regex (``/^$plant$/``) -> ``(p1|p2)``, its
  values regex-escaped and joined by ``|``; a single value is escaped the same way
- any other variable -> its value as is (our custom variables: durations and numbers)
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime

_VAR = re.compile(r"\$\{(\w+)\}|\$(\w+)")


def _regex_value(values: Sequence[str]) -> str:
    return "(" + "|".join(re.escape(v) for v in values) + ")"


def substitute(query: str, start: datetime, end: datetime, interval: str,
               variables: Mapping[str, str | Sequence[str]]) -> str:
    start_ms, end_ms = int(start.timestamp() * 1000), int(end.timestamp() * 1000)
    builtins = {"timeFilter": f"time >= {start_ms}ms and time <= {end_ms}ms",
                "__interval": interval, "__from": str(start_ms), "__to": str(end_ms)}

    def one(m: re.Match[str]) -> str:
        name = m.group(1) or m.group(2)
        if name in builtins:
            return builtins[name]
        if name not in variables:
            raise KeyError(f"undefined variable ${name} in {query!r}")
        value = variables[name]
        return value if isinstance(value, str) else _regex_value(value)

    return _VAR.sub(one, query)
