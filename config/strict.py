"""The base of every config model, and the rules for strings that leave the process.

Unknown keys are errors, never silently ignored, and so are infinite or NaN numbers. Ids and
hosts are checked when the file loads, not when a socket or a file name first meets them.
"""

from __future__ import annotations

import ipaddress
import os
import re
from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

# The one id rule for sites, counties, townships, villages, plants, gateways and devices, in
# the config and in the allocation inputs alike. An id becomes an InfluxDB tag, part of a file
# name and a key in the allocation's outputs, so: lowercase (tags are case-sensitive while
# some file systems are not), no '.' or '/' (no '..' in a path), no spaces or quotes; pinyin
# with digits, '-' and '_' is what real ids look like (chabuqia-01, village_a, 0921-gonghe).
ID_PATTERN = r"^[a-z0-9][a-z0-9_\-]*$"
ID_MAX_LENGTH = 64
Id = str  # a reference to an id (checked against the ids it names, not against the pattern)

_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?"
_HOSTNAME = re.compile(rf"{_LABEL}(?:\.{_LABEL})*\.?")


def check_host(host: str) -> str:
    """A hostname (RFC 1123), an IPv4 address or an IPv6 literal (no brackets), else an error."""
    if not host.isascii() or not host.isprintable() or " " in host:
        raise ValueError(f"host {host!r} holds a character no host name has")
    try:
        ipaddress.ip_address(host)
        return host
    except ValueError:
        pass
    last = host.rstrip(".").rsplit(".", 1)[-1]
    if len(host) > 253 or not _HOSTNAME.fullmatch(host) or last.isdigit():
        raise ValueError(f"host {host!r} is not a hostname, an IPv4 address or an IPv6 literal")
    return host


Host = Annotated[str, AfterValidator(check_host)]


def check_path(path: Path) -> Path:
    """A path the OS can take: printable, within PATH_MAX and NAME_MAX (Linux)."""
    text = str(path)
    if not text.isprintable():
        raise ValueError(f"path {text!r} holds a control character")
    raw = os.fsencode(text)
    if len(raw) >= 4096 or any(len(part) > 255 for part in raw.split(b"/")):
        raise ValueError(f"path {text[:60]!r}... is longer than a file system allows")
    return path


FilePath = Annotated[Path, AfterValidator(check_path)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=False, allow_inf_nan=False)


EntryId = Annotated[str, Field(pattern=ID_PATTERN, max_length=ID_MAX_LENGTH,
                               description="lowercase letters, digits, - and _; unique "
                                           "across the site")]
