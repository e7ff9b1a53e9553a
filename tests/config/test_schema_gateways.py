"""The ``gateways:`` form: devices inherit host and port; errors name gateway, device and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from config.errors import ConfigError
from config.loader import load_config

PLANT = """\
counties:
  - id: c1
    plants:
      - id: p1
        capacity_kwp_dc: 600
        capacity_kw_ac: 500
        latitude: 36.27
        longitude: 100.62
        devices:
          - {id: meter, profile: sunspec-meter, port: 1600}
        gateways:
          - id: logger-1
            host: 10.0.0.5
            port: 502
            pause_after_connect_s: 1.0
            close_after_cycle: true
            devices:
{devices}
"""
GOOD_DEVICES = """\
              - {id: inv, profile: sunspec-inverter, unit_id: 1, repeat: 3, poll_interval_s: 30}
              - {id: sun, profile: sunspec-inverter, unit_id: 10, rated_kw_ac: 100}
"""


def load(tmp_path: Path, devices: str = GOOD_DEVICES, extra: str = "") -> object:
    path = tmp_path / "pvrelief.yaml"
    path.write_text(extra + PLANT.replace("{devices}", devices.rstrip("\n")))
    return load_config(path)


def problems(tmp_path: Path, devices: str = GOOD_DEVICES, extra: str = "") -> list[str]:
    with pytest.raises(ConfigError) as e:
        load(tmp_path, devices, extra)
    return e.value.problems


def test_gateway_devices_inherit_host_and_port(tmp_path: Path) -> None:
    cfg = load(tmp_path)
    devices = {d.id: d for _, d in cfg.devices()}  # type: ignore[attr-defined]
    assert sorted(devices) == ["inv-01", "inv-02", "inv-03", "meter", "sun"]
    for name in ("inv-01", "inv-03", "sun"):
        d = devices[name]
        assert (d.host, d.port, d.gateway) == ("10.0.0.5", 502, "logger-1")
    assert [devices[f"inv-0{i}"].unit_id for i in (1, 2, 3)] == [1, 2, 3]
    assert devices["inv-02"].poll_interval_s == 30
    assert devices["meter"].gateway is None
    (_, gw), = cfg.gateways()  # type: ignore[attr-defined]
    assert gw.pause_after_connect_s == 1.0 and gw.close_after_cycle
    assert gw.timeout_s is None  # the collector's timeout applies


def test_unknown_profile_under_a_gateway_names_its_line(tmp_path: Path) -> None:
    found = problems(tmp_path, "              - {id: x, profile: sun2000, unit_id: 4}\n")
    assert len(found) == 1
    assert ":18: " in found[0]
    assert "gateways[0].devices[0].profile" in found[0] and "'sun2000'" in found[0]


def test_host_under_a_gateway_device_is_rejected(tmp_path: Path) -> None:
    found = problems(tmp_path,
                     "              - {id: x, profile: sunspec-inverter, host: 10.0.0.9}\n")
    assert any(":18: " in p and "gateways[0].devices[0]" in p and "device 'x'" in p
               and "takes host and port from the gateway" in p for p in found), found


def test_two_devices_on_one_unit_id_are_named(tmp_path: Path) -> None:
    found = problems(tmp_path, GOOD_DEVICES
                     + "              - {id: dup, profile: sunspec-inverter, unit_id: 2}\n")
    assert any("'dup'" in p and "gateway logger-1" in p and "10.0.0.5:502/2" in p
               for p in found), found


def test_a_device_beside_a_gateway_on_its_address_is_refused(tmp_path: Path) -> None:
    cfg = PLANT.replace("port: 1600", "host: 10.0.0.5, port: 502, unit_id: 99")
    path = tmp_path / "pvrelief.yaml"
    path.write_text(cfg.replace("{devices}", GOOD_DEVICES.rstrip("\n")))
    with pytest.raises(ConfigError) as e:
        load_config(path)
    assert "list it under that gateway" in str(e.value)


def test_bad_gateway_option_names_the_gateway_key(tmp_path: Path) -> None:
    path = tmp_path / "pvrelief.yaml"
    path.write_text(PLANT.replace("pause_after_connect_s: 1.0", "pause_after_connect_s: -1")
                    .replace("{devices}", GOOD_DEVICES.rstrip("\n")))
    with pytest.raises(ConfigError) as e:
        load_config(path)
    (problem,) = e.value.problems
    assert ":15: " in problem and "gateways[0].pause_after_connect_s" in problem


def test_faults_are_validated(tmp_path: Path) -> None:
    extra = ("simulator:\n  faults:\n"
             "    - {device: inv-02, kind: slow_answer, from: 600, until: "
             "'2020-06-21T12:00:00+08:00', delay_s: 3}\n")
    cfg = load(tmp_path, extra=extra)
    (f,) = cfg.simulator.faults  # type: ignore[attr-defined]
    assert f.from_ == 600.0 and f.until.hour == 12 and f.delay_s == 3
    bad = "simulator:\n  faults:\n    - {device: inv-02, kind: melt}\n"
    (problem,) = problems(tmp_path, extra=bad)
    assert ":3: " in problem and "simulator.faults[0].kind" in problem
    naive = ("simulator:\n  faults:\n"
             "    - {device: inv-02, kind: no_answer, from: 2020-06-21 12:00}\n")
    (problem,) = problems(tmp_path, extra=naive)
    assert "UTC offset" in problem


def test_two_gateways_on_one_address_and_clashing_ids_name_their_lines(tmp_path: Path) -> None:
    second = """\
          - id: logger-2
            host: 10.0.0.5
            port: 502
            devices:
              - {id: sun, profile: sunspec-inverter, unit_id: 30}
          - id: logger-1
            port: 1700
            devices:
              - {id: meter, profile: sunspec-meter, unit_id: 1}
"""
    path = tmp_path / "pvrelief.yaml"
    path.write_text(PLANT.replace("{devices}", GOOD_DEVICES.rstrip("\n")) + second)
    with pytest.raises(ConfigError) as e:
        load_config(path)
    found = e.value.problems
    assert len(found) == 4, found
    gw_addr, dup_sun, dup_gw, dup_meter = found  # sorted by line
    assert ":20: " in gw_addr and "plants[0].gateways[1] (" in gw_addr
    assert "gateway 'logger-2' has the same host:port 10.0.0.5:502 as gateway 'logger-1' " \
           "(line 12)" in gw_addr
    assert ":24: " in dup_sun and "device id 'sun' is used twice (first at line 19)" in dup_sun
    assert ":25: " in dup_gw and "gateway id 'logger-1' is used twice (first at line 12)" \
        in dup_gw
    assert ":28: " in dup_meter and "device id 'meter' is used twice (first at line 10)" \
        in dup_meter


def test_device_beside_a_gateway_names_both_lines(tmp_path: Path) -> None:
    path = tmp_path / "pvrelief.yaml"
    path.write_text(PLANT.replace("port: 1600", "host: 10.0.0.5, port: 502, unit_id: 99")
                    .replace("{devices}", GOOD_DEVICES.rstrip("\n")))
    with pytest.raises(ConfigError) as e:
        load_config(path)
    [msg] = e.value.problems
    assert ":10: " in msg and "plants[0].devices[0] (" in msg and "device 'meter'" in msg
    assert "the address of gateway 'logger-1' (line 12): list it under that gateway" in msg


def test_a_fault_for_an_unknown_device_names_its_line(tmp_path: Path) -> None:
    extra = ("simulator:\n  faults:\n    - {device: inv-02, kind: no_answer}\n"
             "    - {device: inv-9, kind: no_answer}\n")
    (problem,) = problems(tmp_path, extra=extra)
    assert ":4: " in problem and "simulator.faults[1].device: no device 'inv-9'" in problem


def test_repeat_past_247_is_refused_in_python_too() -> None:
    # the expanded copies are never validated again: the entry itself must be refused
    from pydantic import ValidationError

    from tests.simulator.gateway_fleet import gateway_config
    with pytest.raises(ValidationError, match="repeat 20 from unit 240 passes 247"):
        gateway_config([{"id": "inv", "profile": "sunspec-inverter", "unit_id": 240,
                         "repeat": 20}])
