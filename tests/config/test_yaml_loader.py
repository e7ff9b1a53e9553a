"""The one YAML loader: plain data only, bounded, and every problem as 'file:line: message'."""

from __future__ import annotations

import resource
from decimal import Decimal
from pathlib import Path

import pytest

from config import yaml_loader
from config.errors import ConfigError, YamlError
from config.yaml_loader import MAX_DEPTH, MAX_FILE_BYTES, MAX_NODES, load_yaml, parse_yaml


def refused(text: str, exact: bool = False) -> str:
    with pytest.raises(YamlError) as e:
        parse_yaml(text, "f.yaml", exact=exact)
    assert isinstance(e.value, ConfigError)  # what the config's callers already catch
    return str(e.value)


def test_keys_keep_their_lines_and_values_are_plain_data() -> None:
    data, lines = parse_yaml("a: 1\nb:\n  - {c: x}\n  - 2020-06-21\n", "f.yaml")
    assert data == {"a": 1, "b": [{"c": "x"}, data["b"][1]]}
    assert str(data["b"][1]) == "2020-06-21"
    assert lines[("a",)] == 1 and lines[("b",)] == 2
    assert lines[("b", 0)] == 3 and lines[("b", 0, "c")] == 3 and lines[("b", 1)] == 4
    assert parse_yaml("", "f.yaml") == (None, {})
    assert parse_yaml("# only a comment\n", "f.yaml")[0] is None


def test_a_duplicate_key_names_both_lines() -> None:
    assert refused("a: 1\nb: 2\na: 3\n") == "f.yaml:3: duplicate key 'a' (first at line 1)"
    assert refused("m: {x: 1, y: 2,\n    x: 3}\n").startswith("f.yaml:2: duplicate key 'x' "
                                                          "(first at line 1)")


@pytest.mark.parametrize(("text", "message"), [
    ("a: !foo 1\n", "f.yaml:1: tag !foo is not allowed"),
    ("a: !foo [1]\n", "f.yaml:1: tag !foo is not allowed"),
    ("a: !!merge x\n", "f.yaml:1: tag !!merge is not allowed"),
    ("a: !!pairs [x: 1]\n", "f.yaml:1: tag !!pairs is not allowed"),
    ("a: !!binary 'junk!'\n", "f.yaml:1: tag !!binary is not allowed"),
    ("a: !!set {x}\n", "f.yaml:1: tag !!set is not allowed"),
    ("a: !!python/object:os.system x\n", "f.yaml:1: tag !!python/object:os.system is not"),
    ("a: 1\nb: !!int abc\n", "f.yaml:2: cannot read 'abc' as int"),
    ("a: !!float x\n", "f.yaml:1: cannot read 'x' as float"),
    ("a: !!bool 甲村\n", "f.yaml:1: cannot read '甲村' as bool"),
    ("a: !!timestamp x\n", "f.yaml:1: cannot read 'x' as timestamp"),
    ("a: 2020-02-30\n", "f.yaml:1: cannot read '2020-02-30' as timestamp"),
    ("a: " + "1" * 5000 + "\n", "f.yaml:1: cannot read '111"),
    ("<<: {b: 1}\n", "f.yaml:1: merge keys (<<) are not supported"),
    ("a: 1\n---\nb: 2\n", "f.yaml:2: a second YAML document"),
    ("a: *nope\n", "f.yaml:1: alias *nope names no anchor"),
    ("a: &x [1, *x]\n", "f.yaml:1: alias *x names no anchor"),
    ("? [a]\n: 1\n", "f.yaml:1: a key must be plain text"),
    ("!!int 5: x\n", "f.yaml:1: key '5' has tag !!int"),
    ("a: {b: 1\n", "f.yaml:2: YAML syntax error"),
    ("a:\n\tb: 1\n", "f.yaml:2: YAML syntax error"),
])
def test_anything_but_plain_data_is_refused_at_its_line(text: str, message: str) -> None:
    assert refused(text).startswith(message)


@pytest.mark.parametrize(("text", "line", "char"), [
    ("a: 1\nb: x\x1by\n", 2, "U+001B"),      # ESC, as written
    ("a: 1\nb: \x00\n", 2, "U+0000"),         # NUL, as written
    ("a: 1\n\nb: \x7f\n", 3, "U+007F"),
    ('host: "10.0.0.1\\0"\n', 1, "U+0000"),  # escapes: the host with NUL that reached a socket
    ('a:\n  b: "x\\e"\n', 2, "U+001B"),
    ('"a\\nb": 1\n', 1, "U+000A"),           # a newline in a key would break every message
    ('a: "\\x85"\n', 1, "U+0085"),
])
def test_control_characters_are_refused_written_or_escaped(text: str, line: int,
                                                           char: str) -> None:
    message = refused(text)
    assert message.startswith(f"f.yaml:{line}: ") and char in message


def test_tabs_newlines_and_chinese_stay_allowed() -> None:
    data, _ = parse_yaml('name: "甲村\\t乙村"\nnote: |\n  line one\n  line two\n', "f.yaml")
    assert data == {"name": "甲村\t乙村", "note": "line one\nline two\n"}


def test_encoding_problems_name_the_line(tmp_path: Path) -> None:
    path = tmp_path / "f.yaml"
    path.write_bytes("a: 1\nb: 甲村\n".encode("gbk"))
    with pytest.raises(YamlError) as e:
        load_yaml(path)
    assert str(e.value) == (f"{path}:2: not UTF-8 (byte 0x{'甲'.encode('gbk')[0]:02x} at byte "
                            f"offset 8); save the file as UTF-8")
    whole = "a: 1\nb: 甲村\n".encode()
    path.write_bytes(whole[:whole.index("村".encode()) + 1])  # cut inside a character
    with pytest.raises(YamlError, match=rf"^{path}:2: not UTF-8 \(the file ends inside a "):
        load_yaml(path)
    path.write_bytes(b"\xef\xbb\xbf" + "a: 甲村\n".encode())  # a BOM is fine
    assert load_yaml(path)[0] == {"a": "甲村"}
    with pytest.raises(YamlError, match=rf"^{tmp_path / 'nope.yaml'}: cannot read"):
        load_yaml(tmp_path / "nope.yaml")


def test_an_alias_bomb_stops_at_the_node_limit_quickly() -> None:
    levels = ["a0: &a0 [" + ", ".join(["lol"] * 9) + "]"]
    levels += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 10)]
    bomb = "\n".join(levels) + "\n"
    assert len(bomb) < 600  # 9**10 = 3.5 billion strings once expanded
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    message = refused(bomb)
    assert message.startswith("f.yaml:7: alias *a5 expands past 1,000,000 nodes")
    grown_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert grown_mib < 500, f"the refused bomb still grew the process by {grown_mib:.0f} MiB"


def test_aliases_within_the_limit_are_copies() -> None:
    data, lines = parse_yaml("a: &x {k: [1]}\nb: *x\n", "f.yaml")
    assert data == {"a": {"k": [1]}, "b": {"k": [1]}} and data["a"] is not data["b"]
    assert lines[("b",)] == 2


def test_node_depth_and_size_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    deep = "a: " + "[" * 500 + "]" * 500 + "\n"  # RecursionError in a recursive loader
    assert refused(deep).startswith(f"f.yaml:1: lists and mappings nest deeper than "
                                    f"{MAX_DEPTH} levels")
    block = "".join(f"{'  ' * i}- \n" for i in range(MAX_DEPTH)) + "  " * MAX_DEPTH + "- x\n"
    assert refused(block).startswith(f"f.yaml:{MAX_DEPTH + 1}: lists and mappings nest")
    parse_yaml("a: " + "[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1) + "\n", "f.yaml")
    monkeypatch.setattr(yaml_loader, "MAX_NODES", 100)
    many = "".join(f"k{i}: {i}\n" for i in range(60))  # 121 nodes: the mapping, keys, values
    assert refused(many).startswith("f.yaml:50: the document grows past 100 nodes")
    assert MAX_NODES == 1_000_000


def test_a_file_over_the_size_limit_is_refused_without_reading_it_all(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    line = b"# " + b"x" * 1021 + b"\n"  # 1 KiB lines
    path.write_bytes(line * (MAX_FILE_BYTES // len(line) + 2))
    with pytest.raises(YamlError) as e:
        load_yaml(path)
    assert str(e.value) == (f"{path}:{MAX_FILE_BYTES // len(line) + 1}: the file passes 8 MiB "
                            "here, the limit for a YAML file")


def test_exact_numbers_are_built_from_the_text() -> None:
    data, _ = parse_yaml("a: 0.3247\nb: 3660\nc: 0300\nd: -0.5\ne: 1.10\nf: '0.1'\n", "f.yaml",
                         exact=True)
    assert data == {"a": Decimal("0.3247"), "b": 3660, "c": 300, "d": Decimal("-0.5"),
                    "e": Decimal("1.10"), "f": "0.1"}
    assert type(data["a"]) is Decimal and str(data["e"]) == "1.10"
    assert parse_yaml("c: 0300\nx: 0x10\n", "f.yaml")[0] == {"c": 192, "x": 16}  # YAML 1.1
    for text in ("a: .inf\n", "a: .nan\n", "a: 0x10\n", "a: 1:30\n", "a: 1_000\n", "a: +5\n",
                 "a: 1.5e+3\n", "a: .5\n", "a: 1.\n"):
        assert "write numbers in plain decimals" in refused(text, exact=True)


def test_a_large_real_config_stays_well_inside_the_limits(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # 20,000 devices, each written out on a line of its own (no `repeat`), in a village plant
    # behind gateways: the deepest nesting a config has
    head = ("counties:\n  - id: c\n    townships:\n      - id: t\n        villages:\n"
            "          - id: v\n            plants:\n              - id: p\n"
            "                gateways:\n")
    gateways = "".join(
        f"                  - id: gw-{g:03d}\n                    host: 10.0.{g}.1\n"
        f"                    devices:\n" + "".join(
            f"                      - {{id: inv-{g:03d}-{u:03d}, profile: sunspec-inverter, "
            f"unit_id: {u}, poll_interval_s: 60}}\n" for u in range(1, 201))
        for g in range(100))
    text = (head + gateways).encode()
    assert 2_000_000 < len(text) < 2_200_000 < MAX_FILE_BYTES / 3  # the README's "2.1 MB"
    monkeypatch.setattr(yaml_loader, "MAX_NODES", MAX_NODES // 4)
    monkeypatch.setattr(yaml_loader, "MAX_DEPTH", 13)
    data, _ = parse_yaml(text.decode(), "big.yaml")
    plant = data["counties"][0]["townships"][0]["villages"][0]["plants"][0]
    assert sum(len(g["devices"]) for g in plant["gateways"]) == 20_000
