"""Errors of the web page, by what a caller can do about them.

WebError
 +-- AccountError        an account cannot be made or changed (a name taken, a bad role,
 |                       a password too short): say so to whoever typed it
 +-- LoginRefused        wrong name or password, or the account is disabled: try again
 |    +-- LoginThrottled too many wrong passwords: wait ``retry_after_s``
 +-- NotFound            a period, file, plant or alarm that does not exist: 404

State database problems are statedb.errors.StateError, allocator problems AllocatorError:
the page shows their message. sqlite3 errors are mapped in web/accounts.py only.
"""

from __future__ import annotations


class WebError(Exception):
    pass


class AccountError(WebError):
    pass


class LoginRefused(WebError):
    pass


class LoginThrottled(LoginRefused):
    def __init__(self, retry_after_s: float) -> None:
        super().__init__(f"too many wrong passwords: try again in {retry_after_s:.0f} s")
        self.retry_after_s = retry_after_s


class NotFound(WebError):
    pass
