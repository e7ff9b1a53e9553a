"""Password hashes with scrypt (standard library), a memory-hard function.

A stored hash is ``scrypt$N$r$p$salt$hash`` (salt and hash in base64), so the cost can be
raised later: a hash made with older parameters still verifies, and ``needs_rehash`` tells the
login to store a new one. N=2^15, r=8 takes 32 MiB and 0.2-0.5 s per check on the shared
2-core development machine: bearable for a login, dear for whoever tries a list of guesses.
(OWASP's 2^17 would take 128 MiB and over a second per login on a county office's PC.)
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import secrets

N, R, P = 2**15, 8, 1
SALT_BYTES = 16
HASH_BYTES = 32
MIN_LENGTH = 10
MAX_LENGTH = 1024  # a megabyte "password" would make every login attempt dear for us


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p,
                          maxmem=2 * 128 * r * n + 1024 * 1024, dklen=HASH_BYTES)


def check_strength(password: str) -> str | None:
    """Why ``password`` is refused, or None. Length is what counts (NIST SP 800-63B)."""
    if len(password) < MIN_LENGTH:
        return f"a password needs at least {MIN_LENGTH} characters"
    if len(password) > MAX_LENGTH:
        return f"a password has at most {MAX_LENGTH} characters"
    if password.strip() != password:
        return "a password must not start or end with a space"
    return None


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(SALT_BYTES)
    digest = _scrypt(password, salt, N, R, P)
    return "$".join(("scrypt", str(N), str(R), str(P), base64.b64encode(salt).decode(),
                     base64.b64encode(digest).decode()))


def verify_password(password: str, stored: str) -> bool:
    try:
        kind, n, r, p, salt, digest = stored.split("$")
        if kind != "scrypt" or len(password) > MAX_LENGTH:
            return False
        want = base64.b64decode(digest)
        got = _scrypt(password, base64.b64decode(salt), int(n), int(r), int(p))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, want)


def needs_rehash(stored: str) -> bool:
    return not stored.startswith(f"scrypt${N}${R}${P}$")


@functools.cache
def dummy_hash() -> str:
    """Checked against when the name is unknown, so a wrong name costs as long as a wrong
    password and the answer time does not tell which names exist."""
    return hash_password(secrets.token_urlsafe(16))
