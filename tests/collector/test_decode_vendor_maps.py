"""Each profile decodes a device state written by hand from the vendor's own register table.

The register words are packed here with ``struct`` following the document (its types, its word
order, its address numbering), independently of the collector's codec
(``collector.sources.modbus.codec``), so a wrong address, gain, word order or sign in a
profile fails this test.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

import pytest
import yaml

from collector.reading import Quality
from collector.sources.modbus.decode import DeviceDecoder
from config.profiles import load_registry

CASES = Path(__file__).resolve().parent.parent / "cases"
CASE_FILES = sorted(p for p in CASES.glob("*/*.yaml"))

# The vendors' type names -> struct formats (big-endian bytes within each 16-bit word).
FORMATS = {"U16": ">H", "I16": ">h", "S16": ">h", "SSF": ">h", "U32": ">I", "I32": ">i",
           "S32": ">i", "ACC32": ">I", "F32": ">f"}


def pack(type_: str, raw: float, low_word_first: bool) -> list[int]:
    data = struct.pack(FORMATS[type_], raw)
    words = [int.from_bytes(data[i : i + 2], "big") for i in range(0, len(data), 2)]
    return words[::-1] if low_word_first else words


def register_words(case: dict[str, Any]) -> dict[int, int]:
    shift = {"document": 0, "document - 1": -1}[case["wire_address"]]
    low_first = case["word_order"] == "low_first"
    words: dict[int, int] = {}
    for row in case["registers"]:
        for i, w in enumerate(pack(row["type"], row["raw"], low_first)):
            words[row["address"] + shift + i] = w
    return words


@pytest.fixture(scope="module")
def registry():  # type: ignore[no-untyped-def]
    return load_registry()


def test_every_vendor_profile_has_a_case() -> None:
    profiles_with_cases = {p.parent.name for p in CASE_FILES}
    assert {"huawei-sun2000", "sungrow-sg", "chint-dtsu666", "sunspec-inverter"} <= \
        profiles_with_cases


@pytest.mark.parametrize("path", CASE_FILES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_decodes_the_documented_state(path: Path, registry) -> None:  # type: ignore[no-untyped-def]
    case = yaml.safe_load(path.read_text())
    profile = registry[case["profile"]]
    assert profile.name == path.parent.name
    decoder = DeviceDecoder(profile)
    words = register_words(case)
    table = case["table"]
    blocks = []
    for r in decoder.reads:
        assert r.table == table, f"{profile.name} reads {r.table} registers, not {table}"
        blocks.append([words.get(a, 0) for a in range(r.address, r.end)])
    got = decoder.decode(blocks)
    for row in case["registers"]:
        if "field" not in row:
            continue
        name, want = row["field"], row["expect"]
        assert name in got.fields, f"{profile.name} does not read {name} (address {row['address']})"
        if want is None:
            assert got.fields[name] is None, f"{name}: {got.fields[name]} from a sentinel"
            assert got.quality[name] is Quality.NOT_IMPLEMENTED
        else:
            assert got.fields[name] == pytest.approx(want, rel=1e-6, abs=1e-9), name
            assert name not in got.quality
    assert got.status == case["status"]
    assert sorted(got.faults or ()) == sorted(case["faults"])  # None: no fault registers
