"""The influxdb: section: credentials never in the URL, no ambiguous auth, no secret in any error;
and loading that section alone (for `pvrelief allocate`) with file:line errors."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pydantic import ValidationError

from config.errors import ConfigError
from config.influx import InfluxSettings, load_influx_section
from config.loader import load_config

SECRET = "S3cret-9d1e-distinctive"
EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "examples" / "gonghe.yaml"


def _load_error(tmp_path: Path, influxdb: str) -> str:
    path = tmp_path / "pvrelief.yaml"
    path.write_text(f"site: {{id: s}}\ninfluxdb:\n{influxdb}")
    with pytest.raises(ConfigError) as e:
        load_config(path)
    text = str(e.value)
    assert SECRET not in text and SECRET not in repr(e.value)
    return text


@pytest.mark.parametrize("url", [f"http://admin:{SECRET}@127.0.0.1:8086",
                                 f"http://:{SECRET}@127.0.0.1:8086",
                                 f"https://{SECRET}@influx.example:8086/",
                                 f"http://127.0.0.1:8086/?u=admin&p={SECRET}"])
def test_credentials_in_the_url_are_refused_without_echoing_them(tmp_path: Path,
                                                                 url: str) -> None:
    text = _load_error(tmp_path, f"  url: {url}\n")
    assert "pvrelief.yaml:3: influxdb.url: the URL must not" in text
    with pytest.raises(ValidationError) as e:
        InfluxSettings(url=url)
    assert SECRET not in str(e.value)


@pytest.mark.parametrize(("section", "message"), [
    (f"  password: {{value: {SECRET}}}\n", "username and password go together"),
    ("  username: admin\n", "username and password go together"),
    (f"  username: admin\n  password: {{value: {SECRET}}}\n  token: {{value: {SECRET}}}\n",
     "either username and password or token, not both"),
    (f"  api: v2\n  org: o\n  username: a\n  password: {{value: {SECRET}}}\n",
     "api: v2 authenticates with a token"),
    (f"  username: admin\n  password: {{value: {SECRET}, env: HOME}}\n",
     "give exactly one of value, env or file"),
])
def test_ambiguous_auth_is_an_error(tmp_path: Path, section: str, message: str) -> None:
    assert message in _load_error(tmp_path, section)


def test_the_section_alone_with_secrets_from_env_and_a_relative_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "token").write_text(SECRET + "\n")
    monkeypatch.setenv("PVRELIEF_TEST_INFLUX_PW", SECRET)
    path = tmp_path / "collector.yaml"
    # the devices are nonsense: only the influxdb: section is read
    path.write_text("counties: [{id: x, plants: [{devices: 7}]}]\n"
                    "influxdb:\n  url: http://10.0.0.5:8086\n  database: plant_data\n"
                    "  username: reader\n  password: {env: PVRELIEF_TEST_INFLUX_PW}\n")
    s = load_influx_section(path, {})
    assert (str(s.url), s.database, s.username) == ("http://10.0.0.5:8086/", "plant_data",
                                                     "reader")
    assert s.password is not None and s.password.reveal() == SECRET
    # options replace the file's keys; a relative secret file in the file is the file's folder's
    path.write_text("influxdb:\n  token: {file: secrets/token}\n  database: x\n")
    s = load_influx_section(path, {"database": ("--influx-db", "y")})
    assert s.token is not None and s.token.reveal() == SECRET and s.database == "y"


def test_section_errors_name_the_line_or_the_option(tmp_path: Path) -> None:
    path = tmp_path / "collector.yaml"
    path.write_text("site: {id: s}\ninfluxdb:\n  database: x\n  timeout_s: -1\n")
    with pytest.raises(ConfigError, match=r"collector.yaml:4: influxdb.timeout_s: Input should "
                                          r"be greater than 0"):
        load_influx_section(path, {})
    with pytest.raises(ConfigError, match=r"^--influx-url: the URL must not hold credentials"
                       ) as e:
        load_influx_section(path, {"url": ("--influx-url", f"http://a:{SECRET}@h:1"),
                                   "timeout_s": ("--x", 1)})
    assert SECRET not in str(e.value)
    with pytest.raises(ConfigError, match=r"^--influx-password-env: environment variable "
                                          r"NOT_SET_ANYWHERE_42 is not set"):
        load_influx_section(None, {"url": ("--influx-url", "http://h:1"),
                                   "username": ("--influx-username", "u"),
                                   "password": ("--influx-password-env",
                                                {"env": "NOT_SET_ANYWHERE_42"})})
    path.write_text("site: {id: s}\n")
    with pytest.raises(ConfigError, match=r"collector.yaml:1: needs an `influxdb:` section"):
        load_influx_section(path, {})
    path.write_text("influxdb:\n  url: http://h:1\n  url: http://h:2\n")
    with pytest.raises(ConfigError, match=r"collector.yaml:3: duplicate key 'url'"):
        load_influx_section(path, {})
    assert "NOT_SET_ANYWHERE_42" not in os.environ


def test_the_example_configs_influxdb_section_loads_alone() -> None:
    assert load_influx_section(EXAMPLE, {}) == load_config(EXAMPLE).influxdb
