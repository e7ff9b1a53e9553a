"""The ``web:`` section: where the page listens, what it reads, how long a login lasts.

The page is for technicians on a phone and finance staff at a desk; it sits behind a reverse
proxy that terminates TLS (README "Web page"), so it listens on loopback unless told otherwise
and its cookies are ``Secure`` unless told otherwise.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, ValidationInfo, field_validator

from config.secrets import CONFIG_DIR
from config.strict import FilePath, Host, Strict


class WebSettings(Strict):
    host: Host = Field("127.0.0.1", description="listen address: keep loopback behind a proxy")
    port: int = Field(8080, ge=1, le=65535, description="listen port")
    allocation: FilePath | None = Field(
        None, description="allocation inputs the Revenue page runs periods with (relative to "
                          "this file); none: the page only shows computed periods")
    revenue_dir: FilePath = Field(
        Path("var/revenue"), description="one folder per period, as pvrelief allocate --out "
                                         "writes it; the page reads and adds periods here")
    session_idle_minutes: int = Field(
        30, ge=1, le=24 * 60, description="a login ends after this long without a request")
    session_max_hours: int = Field(
        12, ge=1, le=24 * 30, description="a login ends this long after it began, in use or not")
    secure_cookies: bool = Field(
        True, description="cookies only over HTTPS (browsers also send them to loopback); "
                          "false only on a LAN without TLS")
    login_failures: int = Field(
        5, ge=1, le=100, description="wrong passwords for one name or address before each "
                                     "further attempt must wait")
    login_delay_s: float = Field(
        30.0, gt=0, le=3600, description="the first wait; it doubles with each further failure "
                                         "(at most 15 minutes)")

    @field_validator("allocation")
    @classmethod
    def _beside_config(cls, path: Path | None, info: ValidationInfo) -> Path | None:
        base = (info.context or {}).get(CONFIG_DIR)
        if path is not None and base is not None and not path.is_absolute():
            return Path(base) / path
        return path
