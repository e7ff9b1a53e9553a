"""Strings that reach a socket, a file name or a tag are checked when the config loads.

One id rule for the config and the allocation inputs; hosts are hostnames, IPv4 or IPv6; an
empty config, or one without a plant, is an error rather than "OK: 0 plants".
"""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from allocator.errors import InputError
from allocator.inputs import parse_inputs
from config.errors import ConfigError
from config.loader import load_config
from config.schema import Device
from config.strict import ID_MAX_LENGTH

CONFIG = """\
site: {id: s}
counties:
  - id: c1
    plants:
      - id: PLANT
        capacity_kwp_dc: 300
        capacity_kw_ac: 250
        latitude: 36.2
        longitude: 100.6
        devices:
          - {id: inv, profile: sunspec-inverter, host: HOST}
"""
ALLOCATION = """\
tariffs: [{from: 2016-01-01, grid: 0.3247, subsidy: 0.4253}]
villages: [{id: VILLAGE, name: 甲村}]
plants:
  - id: PLANT
    kind: village
    capacity_kwp: 300
    meter: inv
    shares: [{from: 2020-01-01, kw: {VILLAGE: 300}}]
"""
GOOD_IDS = ["chabuqia-01", "village_a", "0921-gonghe", "p", "x" * ID_MAX_LENGTH]
BAD_IDS = ["Village-A", "gonghe.central", "-leading", "_leading", "甲村", "a b", "a/b", "..",
           "", "x" * (ID_MAX_LENGTH + 1)]


def config_problems(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "pvrelief.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as e:
        load_config(path)
    return e.value.problems


def config_with(tmp_path: Path, plant: str = "vp", host: str = "127.0.0.1") -> Path:
    path = tmp_path / "pvrelief.yaml"
    path.write_text(CONFIG.replace("PLANT", f'"{plant}"').replace("HOST", f'"{host}"'),
                    encoding="utf-8")
    return path


def allocation(plant: str = "vp", village: str = "va") -> str:
    return ALLOCATION.replace("PLANT", f'"{plant}"').replace("VILLAGE", f'"{village}"')


@pytest.mark.parametrize("good", GOOD_IDS)
def test_one_id_rule_accepts_pinyin_digits_dash_and_underscore(tmp_path: Path,
                                                               good: str) -> None:
    assert load_config(config_with(tmp_path, plant=good)).plants()[0].id == good
    inputs = parse_inputs(allocation(plant=good, village=good))
    assert list(inputs.plants) == [good] and list(inputs.villages) == [good]


@pytest.mark.parametrize("bad", BAD_IDS)
def test_one_id_rule_refuses_the_same_ids_in_config_and_allocation(tmp_path: Path,
                                                                   bad: str) -> None:
    with pytest.raises(ConfigError) as e:
        load_config(config_with(tmp_path, plant=bad))
    [problem] = e.value.problems
    assert problem.startswith(f"{tmp_path / 'pvrelief.yaml'}:5: counties[0].plants[0].id")
    with pytest.raises(InputError) as a:
        parse_inputs(allocation(plant=bad), "alloc.yaml")
    assert str(a.value).startswith("alloc.yaml:4: plants.0.id: ")
    with pytest.raises(InputError) as a:
        parse_inputs(allocation(village=bad), "alloc.yaml")
    assert str(a.value).startswith("alloc.yaml:2: villages.0.id: ")


@pytest.mark.parametrize("host", ["127.0.0.1", "10.20.30.40", "::1", "fe80::1",
                                  "2001:db8::15", "localhost", "logger-01.plant.local",
                                  "gw.example.com."])
def test_hostnames_and_ip_addresses_are_accepted(tmp_path: Path, host: str) -> None:
    assert load_config(config_with(tmp_path, host=host)).devices()[0][1].host == host


@pytest.mark.parametrize("host", ["host name", "[::1]", "999.1.1.1", "10.0.0", "-bad.local",
                                  "a..b", "http://10.0.0.1", "10.0.0.1:502", "甲村.cn",
                                  "x" * 254, "a" * 64 + ".local", ""])
def test_anything_else_as_a_host_names_the_line(tmp_path: Path, host: str) -> None:
    [problem] = config_problems(tmp_path, config_with(tmp_path, host=host).read_text())
    assert problem.startswith(f"{tmp_path / 'pvrelief.yaml'}:11: "
                              "counties[0].plants[0].devices[0].host")
    assert "is not a hostname, an IPv4 address or an IPv6 literal" in problem \
        or "holds a character no host name has" in problem


def test_a_host_with_nul_is_refused_by_the_loader_and_by_the_model(tmp_path: Path) -> None:
    [problem] = config_problems(tmp_path, CONFIG.replace("PLANT", "vp").replace(
        "HOST", '"10.0.0.1\\0"'))
    assert problem.startswith(f"{tmp_path / 'pvrelief.yaml'}:11: a value holds the control "
                              "character U+0000")
    with pytest.raises(ValidationError, match="holds a character no host name has"):
        Device(id="d", profile="sunspec-meter", host="10.0.0.1\x00")


@pytest.mark.parametrize(("text", "line"), [
    ("", 1), ("# nothing but a comment\n", 1), ("{}\n", 1), ("site: {id: s}\n", 1),
    ("site: {id: s}\ncounties: []\n", 2), ("counties:\n  - id: c1\n    townships: []\n", 1),
])
def test_a_config_without_plants_is_an_error(tmp_path: Path, text: str, line: int) -> None:
    [problem] = config_problems(tmp_path, text)
    assert problem.startswith(f"{tmp_path / 'pvrelief.yaml'}:{line}: ")
    assert "empty" in problem or "no plants" in problem


def test_infinite_and_nan_numbers_are_refused(tmp_path: Path) -> None:
    text = config_with(tmp_path).read_text().replace(
        "{id: inv, profile: sunspec-inverter,", "{id: inv, profile: sunspec-inverter, "
                                               "rated_kw_ac: .inf,")
    [problem] = config_problems(tmp_path, text)
    assert ":11: counties[0].plants[0].devices[0].rated_kw_ac" in problem
    assert "finite number" in problem


@pytest.mark.parametrize(("key", "value"), [
    ("spool_dir", "var/" + "s" * 256),
    ("quarantine_file", "/" + "q/" * 2100),
    ("token", "{file: " + "t" * 300 + "}"),  # raised OSError (ENAMETOOLONG) from is_file()
])
def test_a_path_the_file_system_cannot_take_names_its_line(tmp_path: Path, key: str,
                                                           value: str) -> None:
    text = config_with(tmp_path).read_text() + f"influxdb:\n  {key}: {value}\n"
    [problem] = config_problems(tmp_path, text)
    assert problem.startswith(f"{tmp_path / 'pvrelief.yaml'}:13: influxdb.{key}")
    assert "is longer than a file system allows" in problem


def test_a_timezone_too_long_for_a_file_name_is_an_unknown_timezone(tmp_path: Path) -> None:
    text = config_with(tmp_path).read_text().replace(
        "        longitude: 100.6\n", "        longitude: 100.6\n        timezone: " + "Asia/"
        + "x" * 300 + "\n")
    [problem] = config_problems(tmp_path, text)
    assert ":10: counties[0].plants[0].timezone" in problem and "unknown timezone" in problem
