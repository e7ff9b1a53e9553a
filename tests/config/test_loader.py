"""Config errors name the file, the line, the field and the plant/device they belong to."""

from __future__ import annotations

from pathlib import Path

import pytest

from config.errors import ConfigError
from config.loader import load_config

EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "examples" / "gonghe.yaml"

GOOD = """\
site: {id: s}
counties:
  - id: c1
    plants:
      - id: central
        kind: centralised
        capacity_kwp_dc: 1000
        capacity_kw_ac: 800
        latitude: 36.27
        longitude: 100.62
        devices:
          - {id: inv, profile: sunspec-inverter, port: 1502, unit_id: 1, repeat: 3}
          - {id: meter, profile: sunspec-meter, port: 1503}
    townships:
      - id: t1
        villages:
          - id: v1
            plants:
              - id: vp
                capacity_kwp_dc: 300
                capacity_kw_ac: 250
                latitude: 36.2
                longitude: 100.6
"""


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "pvrelief.yaml"
    p.write_text(text)
    return p


def problems(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(ConfigError) as e:
        load_config(write(tmp_path, text))
    return e.value.problems


def test_example_config_loads() -> None:
    cfg = load_config(EXAMPLE)
    assert [p.id for p in cfg.plants()] == ["gonghe-central", "village-a", "village-b"]
    assert len(cfg.devices()) == 49
    assert cfg.plants()[1].village == "village-a"


def test_repeat_expands_devices_with_consecutive_unit_ids(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, GOOD))
    central = cfg.plants()[0]
    assert [(d.id, d.unit_id) for d in central.devices[:3]] == [
        ("inv-01", 1), ("inv-02", 2), ("inv-03", 3)]
    assert central.village is None and cfg.plants()[1].village == "v1"
    assert cfg.plants()[0].timezone == "Asia/Shanghai"


def test_wrong_value_names_line_field_and_device(tmp_path: Path) -> None:
    text = GOOD.replace("port: 1503}", "port: 70000}")
    [msg] = problems(tmp_path, text)
    assert msg.startswith(f"{tmp_path / 'pvrelief.yaml'}:13: ")
    assert "counties[0].plants[0].devices[1].port" in msg
    assert "plant 'central'" in msg and "device 'meter'" in msg
    assert "65535" in msg


def test_unknown_key_is_an_error_not_ignored(tmp_path: Path) -> None:
    text = GOOD.replace("        latitude: 36.27\n",
                        "        latitude: 36.27\n        lattitude: 3\n")
    [msg] = problems(tmp_path, text)
    assert ":10: " in msg and "lattitude" in msg and "Extra inputs are not permitted" in msg


def test_unknown_profile_lists_known_ones(tmp_path: Path) -> None:
    [msg] = problems(tmp_path, GOOD.replace("profile: sunspec-meter", "profile: sunspec-metre"))
    assert ":13: " in msg and "unknown profile 'sunspec-metre'" in msg
    assert "sunspec-meter" in msg.split("known:")[1]


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    text = GOOD.replace("capacity_kw_ac: 250", "capacity_kw_ac: -1").replace(
        "latitude: 36.2\n", "latitude: 136.2\n").replace("sunspec-meter", "nope")
    found = problems(tmp_path, text)
    assert len(found) == 3
    assert ":13: " in found[0] and "unknown profile 'nope'" in found[0]
    assert ":21: " in found[1] and "capacity_kw_ac" in found[1]
    assert ":22: " in found[2] and "latitude" in found[2]


def test_duplicate_key_and_yaml_syntax_errors_name_the_line(tmp_path: Path) -> None:
    [dup] = problems(tmp_path, GOOD.replace("        kind: centralised\n",
                                            "        kind: centralised\n        kind: village\n"))
    assert ":7: duplicate key 'kind' (first at line 6)" in dup
    [syntax] = problems(tmp_path, "site: {id: s\ncounties: []\n")
    assert "YAML syntax error" in syntax and ":2:" in syntax


def test_duplicate_device_address_is_rejected(tmp_path: Path) -> None:
    text = GOOD.replace("port: 1503}", "port: 1502, unit_id: 2}")
    [msg] = problems(tmp_path, text)
    assert "127.0.0.1:1502/2" in msg and "'inv-02'" in msg


def test_unknown_timezone(tmp_path: Path) -> None:
    text = GOOD.replace("                longitude: 100.6\n",
                        "                longitude: 100.6\n                timezone: Mars/Base\n")
    [msg] = problems(tmp_path, text)
    assert "unknown timezone 'Mars/Base'" in msg and ":24: " in msg


def test_secrets_come_from_env_and_are_never_printed(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PVRELIEF_TEST_TOKEN", "s3cret-token")
    text = GOOD + "influxdb:\n  token: {env: PVRELIEF_TEST_TOKEN}\n"
    cfg = load_config(write(tmp_path, text))
    assert cfg.influxdb.token is not None
    assert cfg.influxdb.token.reveal() == "s3cret-token"
    assert "s3cret" not in repr(cfg) and "s3cret" not in str(cfg.model_dump())
    [msg] = problems(tmp_path, GOOD + "influxdb:\n  token: {env: PVRELIEF_NOT_SET_ANYWHERE}\n")
    assert "PVRELIEF_NOT_SET_ANYWHERE is not set" in msg and ":25: " in msg


def test_repeat_past_unit_247_names_the_device_and_its_line(tmp_path: Path) -> None:
    [msg] = problems(tmp_path, GOOD.replace("unit_id: 1, repeat: 3", "unit_id: 240, repeat: 20"))
    assert msg.startswith(f"{tmp_path / 'pvrelief.yaml'}:12: ")
    assert "devices[0] (county 'c1', plant 'central', device 'inv')" in msg
    assert "repeat 20 from unit 240 passes 247" in msg


def test_problems_across_entries_name_both_lines_and_all_are_reported(tmp_path: Path) -> None:
    text = (GOOD.replace("{id: meter, profile: sunspec-meter, port: 1503}",
                         "{id: inv-02, profile: sunspec-meter, port: 1502, unit_id: 3}")
            .replace("              - id: vp\n", "              - id: central\n")
            .replace("latitude: 36.2\n", "latitude: 136.2\n")
            + "simulator:\n  faults:\n    - {device: nope, kind: no_answer}\n")
    found = problems(tmp_path, text)
    assert len(found) == 5, found
    dup_addr, dup_id = sorted(p for p in found if ":13: " in p)  # devices[1] < devices[1].id
    assert "devices[1].id (county 'c1', plant 'central', device 'inv-02')" in dup_id
    assert "device id 'inv-02' is used twice (first at line 12)" in dup_id
    assert "device 'inv-02' has the same host:port/unit 127.0.0.1:1502/3 as 'inv-03' " \
           "(first at line 12)" in dup_addr
    [plant] = [p for p in found if ":19: " in p]
    assert "plant id 'central' is used twice (first at line 5)" in plant
    [lat] = [p for p in found if ":22: " in p]
    assert "latitude" in lat
    [fault] = [p for p in found if ":26: " in p]
    assert "simulator.faults[0].device: no device 'nope'" in fault


def test_secret_file_is_relative_to_the_config_file(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    conf = tmp_path / "etc"
    conf.mkdir()
    (conf / "influx.token").write_text("file-s3cret\n")
    elsewhere = tmp_path / "run"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # as under systemd: the working directory is not the config's
    path = conf / "pvrelief.yaml"
    path.write_text(GOOD + "influxdb:\n  token: {file: influx.token}\n")
    cfg = load_config(path)
    assert cfg.influxdb.token is not None
    assert cfg.influxdb.token.reveal() == "file-s3cret"
    path.write_text(GOOD + "influxdb:\n  token: {file: missing.token}\n")
    with pytest.raises(ConfigError) as e:
        load_config(path)
    [msg] = e.value.problems
    assert f"secret file {conf / 'missing.token'} does not exist" in msg and ":25: " in msg
