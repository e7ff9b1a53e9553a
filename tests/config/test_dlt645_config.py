"""DL/T 645 gateways and meters in the config: defaults, and errors naming file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from config.dlt645_schema import Dlt645Gateway, Dlt645Meter
from config.errors import ConfigError
from config.loader import load_config
from config.schema import Config

CONFIG = """\
counties:
  - id: c1
    plants:
      - id: p1
        capacity_kwp_dc: 600
        capacity_kw_ac: 500
        latitude: 36.27
        longitude: 100.62
        devices:
          - {id: inv, profile: sunspec-inverter, port: 1600}
        gateways:
          - id: logger-1
            port: 502
            devices:
              - {id: sun, profile: sunspec-inverter, unit_id: 1}
        dlt645_gateways:
          - id: rs485-1
            host: 127.0.0.1
            port: 8899
            meters:
              - id: gk
                address: "000012345678"
                export_is: reverse
                ct_ratio: 80
              - {id: gk-2, address: "000012345679", export_is: forward, poll_interval_s: 30,
                 identifiers: [00 02 00 00, 02 03 00 00]}
{extra}"""


def write(tmp_path: Path, old: str = "", new: str = "", extra: str = "") -> Path:
    text = CONFIG.replace("{extra}", extra)
    assert old in text
    path = tmp_path / "pvrelief.yaml"
    path.write_text(text.replace(old, new, 1) if old else text)
    return path


def problems(tmp_path: Path, old: str = "", new: str = "", extra: str = "") -> list[str]:
    with pytest.raises(ConfigError) as e:
        load_config(write(tmp_path, old, new, extra))
    return e.value.problems


def test_a_gateway_with_two_meters(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path))
    (gw,) = cfg.plants()[0].dlt645_gateways
    assert (gw.baud, gw.framing, gw.preamble, gw.timeout_s) == (2400, "8E1", 4, 1.0)
    # 8E1: start + 8 data + parity + stop = 11 bits; at 2400 baud a byte takes 4.58 ms
    assert gw.byte_time_s() == pytest.approx(11 / 2400)
    gk, gk2 = gw.meters
    assert (gk.address, gk.export_is, gk.multiplier, gk.poll_interval_s) == (
        "000012345678", "reverse", 80.0, 60.0)
    assert (gk.ct_ratio, gk.pt_ratio, gk2.multiplier) == (80.0, 1.0, 1.0)
    assert gk.poll_identifiers()[:2] == (0x0001FF00, 0x0002FF00)
    assert gk2.poll_identifiers() == (0x00020000, 0x02030000)
    assert ("127.0.0.1", 8899) in cfg.endpoints()


@pytest.mark.parametrize(("old", "new", "line", "message"), [
    ('address: "000012345678"', 'address: "12345678"', 22,
     r"meters\[0\].address \(county 'c1', plant 'p1', gateway 'rs485-1', meter 'gk'\): "
     "String should match"),
    ('address: "000012345678"', 'address: "999999999999"', 22, "broadcast address"),
    ("                export_is: reverse\n", "", 21, r"meters\[0\].export_is .*Field required"),
    ("export_is: reverse", "export_is: backwards", 23, "'reverse' or 'forward'"),
    ("ct_ratio: 80", "ct_ratio: 0", 24, "greater than 0"),
    ("identifiers: [00 02 00 00,", "identifiers: [00 09 00 00,", 26,
     "data identifier 00 09 00 00 is not in identifiers.yaml"),
    ("            port: 8899\n", "            port: 8899\n            baud: 2000\n", 20,
     r"baud .*: Input should be 1200, 2400, 4800, 9600 or 19200"),
    ("            port: 8899\n", "            port: 8899\n            framing: 7E1\n", 20,
     "framing"),
])
def test_bad_values_name_their_line(tmp_path: Path, old: str, new: str, line: int,
                                    message: str) -> None:
    found = problems(tmp_path, old, new)
    assert any(f"pvrelief.yaml:{line}: " in p and __import__("re").search(message, p)
               for p in found), found


def test_clashes_name_both_lines(tmp_path: Path) -> None:
    found = problems(tmp_path, 'address: "000012345679"', 'address: "000012345678"')
    assert any(":25: " in p and "address 000012345678 is on this bus twice (first at line 21)"
               in p for p in found), found
    found = problems(tmp_path, "id: gk-2", "id: sun")
    assert any(":25: " in p and "device id 'sun' is used twice (first at line 15)" in p
               for p in found), found
    found = problems(tmp_path, "port: 8899", "port: 502")
    assert any(":17: " in p and "same host:port 127.0.0.1:502 as gateway 'logger-1' (line 12)"
               in p for p in found), found
    found = problems(tmp_path, "port: 8899", "port: 1600")
    assert any(":17: " in p and "where a Modbus device sits (line 10)" in p for p in found)
    found = problems(tmp_path, "id: rs485-1", "id: logger-1")
    assert any(":17: " in p and "gateway id 'logger-1' is used twice (first at line 12)" in p
               for p in found), found


def test_faults_fit_the_protocol(tmp_path: Path) -> None:
    ok = ("simulator:\n  faults:\n"
          "    - {device: gk, kind: bad_checksum, from: 0, until: 60}\n"
          "    - {device: gk, kind: error_reply, code: 2}\n"
          "    - {device: gk-2, kind: counter_reset, field: e_export_kwh}\n"
          "    - {device: gk, kind: no_answer}\n")
    load_config(write(tmp_path, extra=ok))
    bad = ("simulator:\n  faults:\n"
           "    - {device: gk, kind: string_loss}\n"
           "    - {device: sun, kind: bad_checksum}\n"
           "    - {device: gk, kind: counter_reset, field: e_total_kwh}\n"
           "    - {device: gk, kind: error_reply, code: 128}\n"
           "    - {device: gk, kind: error_reply}\n")
    found = problems(tmp_path, extra=bad)
    text = "\n".join(found)
    assert ":29: " in text and "a DL/T 645 meter cannot have a string_loss fault" in text
    assert ":30: " in text and "'sun' is a Modbus device" in text
    assert ":31: " in text and "a DL/T 645 meter's counters are e_export_kwh, e_import_kwh" in text
    assert ":32: " in text and "code 128 is no DL/T 645 error byte" in text
    assert ":33: " in text and "an error_reply fault needs code" in text
    assert "no device" not in text  # faults may name meters


def test_a_config_built_in_python_gets_the_same_checks() -> None:
    meter = Dlt645Meter(id="gk", address="000012345678", export_is="reverse")
    twin = Dlt645Meter(id="gk", address="000012345678", export_is="forward")
    gw = Dlt645Gateway(id="rs", port=8899, meters=[meter, twin])
    plant = {"id": "p1", "capacity_kwp_dc": 1, "capacity_kw_ac": 1, "latitude": 36,
             "longitude": 100, "dlt645_gateways": [gw.model_dump()]}
    with pytest.raises(ValueError) as e:
        Config.model_validate({"counties": [{"id": "c", "plants": [plant]}]})
    assert "device id 'gk' is used twice" in str(e.value)
    assert "address 000012345678 is on gateway rs's bus twice" in str(e.value)
