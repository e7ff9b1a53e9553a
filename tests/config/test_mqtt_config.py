"""The MQTT parts of the config: pushed devices, subscriptions, TLS files, mappings, simulator."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from config.errors import ConfigError
from config.loader import load_config
from config.mappings import MappingFile, load_mappings
from config.mqtt import MqttSettings

SITE = """\
site: {id: s}
mqtt:
  subscriptions:
    - {topic: "pvrelief/+/+/+/reading", mapping: pvrelief}
counties:
  - id: c1
    plants:
      - id: p1
        capacity_kwp_dc: 300
        capacity_kw_ac: 250
        latitude: 36.27
        longitude: 100.62
        devices:
          - {id: inv, profile: sunspec-inverter, protocol: mqtt, repeat: 3}
          - {id: meter, profile: sunspec-meter, protocol: mqtt}
          - {id: polled, profile: sunspec-meter, port: 1502}
"""


def load(tmp_path: Path, text: str):
    path = tmp_path / "site.yaml"
    path.write_text(text)
    return load_config(path)


def problems(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(ConfigError) as e:
        load(tmp_path, text)
    return e.value.problems


def test_pushed_devices_have_no_address_and_so_no_address_clash(tmp_path: Path) -> None:
    cfg = load(tmp_path, SITE)
    assert [d.id for _, d in cfg.devices("mqtt")] == ["inv-01", "inv-02", "inv-03", "meter"]
    assert [d.id for _, d in cfg.devices("modbus-tcp")] == ["polled"]
    assert cfg.endpoints() == [("127.0.0.1", 1502)]


def test_a_pushed_device_with_an_address_names_its_line(tmp_path: Path) -> None:
    [msg] = problems(tmp_path, SITE.replace("protocol: mqtt, repeat: 3",
                                            "protocol: mqtt, port: 1502"))
    assert ":14: " in msg and "an mqtt device has no port" in msg


def test_an_unknown_mapping_names_its_line_and_the_known_ones(tmp_path: Path) -> None:
    [msg] = problems(tmp_path, SITE.replace("mapping: pvrelief", "mapping: pvrelif"))
    assert ":4: " in msg and "unknown mapping 'pvrelif'" in msg and "sunlog-json" in msg


@pytest.mark.parametrize(("topic", "says"), [
    ("$share/g/pvrelief/#", "share_group adds"), ("a/#/b", "'#' may only be the last"),
    ("a/b+/c", "must stand alone"),
])
def test_a_bad_topic_filter_is_refused(topic: str, says: str) -> None:
    with pytest.raises(ValidationError) as e:
        MqttSettings.model_validate({"subscriptions": [{"topic": topic, "mapping": "pvrelief"}]})
    assert says in str(e.value)


def test_tls_files_are_relative_to_the_config_and_must_exist(tmp_path: Path) -> None:
    (tmp_path / "ca.crt").write_text("not checked here\n")
    cfg = load(tmp_path, SITE.replace("mqtt:\n", "mqtt:\n  tls: {ca_file: ca.crt}\n"))
    assert cfg.mqtt.tls is not None and cfg.mqtt.tls.ca_file == tmp_path / "ca.crt"
    [msg] = problems(tmp_path, SITE.replace(
        "mqtt:\n", "mqtt:\n  tls: {ca_file: ca.crt, cert_file: ca.crt}\n"))
    assert "give cert_file and key_file together" in msg
    [msg] = problems(tmp_path, SITE.replace("mqtt:\n", "mqtt:\n  tls: {ca_file: nope.crt}\n"))
    assert "nope.crt does not exist" in msg


def test_the_simulator_publishes_only_plants_that_exist_and_never_relays_to_itself(
        tmp_path: Path) -> None:
    text = SITE + "simulator:\n  mqtt:\n    plants: [{plant: p9}]\n    uplink_port: 1883\n"
    found = problems(tmp_path, text)
    assert any("simulator.mqtt.plants[0]: no plant 'p9'" in p for p in found)
    assert any("would relay to itself" in p for p in found)


def test_the_shipped_mappings_load_and_a_bad_one_is_refused() -> None:
    assert sorted(load_mappings()) == ["pvrelief", "sunlog-json", "sunlog-topics"]
    with pytest.raises(ValidationError) as e:
        MappingFile.model_validate({"name": "x", "format": "json", "device": {"topic": 1,
                                    "path": "sn"}, "timestamp": {"path": "t", "format":
                                    "epoch_s"}, "fields": {"p_ac_w": {"path": "p"}}})
    assert "exactly one of topic or path" in str(e.value)
    with pytest.raises(ValidationError):
        MappingFile.model_validate({"name": "x", "format": "json", "device": {"path": "sn"},
                                    "timestamp": {"path": "t", "format": "epoch_s"},
                                    "fields": {"P AC": {"path": "p"}}})
