"""The allocation file goes through the one YAML loader: exact numbers, no duplicate keys."""

from __future__ import annotations

from pathlib import Path

import pytest
from hand_case import YAML

from allocator.errors import InputError
from allocator.inputs import load_inputs, parse_inputs


def _error(text: str) -> str:
    with pytest.raises(InputError) as e:
        parse_inputs(text, "alloc.yaml")
    return str(e.value)


def test_a_duplicate_key_is_an_error_naming_both_lines() -> None:
    # the old loader billed 1 yuan of land rent here, without a word
    text = YAML.replace("      - {from: 2020-01-01, land_rent_per_year: 3660}\n",
                        "      - from: 2020-01-01\n        land_rent_per_year: 3660\n"
                        "        land_rent_per_year: 1\n")
    assert _error(text) == ("alloc.yaml:21: duplicate key 'land_rent_per_year' "
                            "(first at line 20)")
    assert _error(YAML + "villages: []\n") == "alloc.yaml:20: duplicate key 'villages' " \
                                              "(first at line 5)"


def test_numbers_are_plain_decimals_read_exactly() -> None:
    plant = parse_inputs(YAML.replace("land_rent_per_year: 3660", "land_rent_per_year: 3660.07")
                         ).plants["p"]
    assert plant.deductions[0].land_rent_fen_per_year == 366_007
    for written in ("3_660", "+3660", "3.66e+3", "0x0E4C"):
        message = _error(YAML.replace("land_rent_per_year: 3660", f"land_rent_per_year: {written}"))
        assert message == (f"alloc.yaml:19: '{written}': write numbers in plain decimals "
                           "(e.g. 3660 or 0.3247) in this file")


def test_a_number_too_large_for_the_integer_path_names_its_line() -> None:
    message = _error(YAML.replace("land_rent_per_year: 3660", "land_rent_per_year: "
                                  "10000000000000000"))
    # named at the deduction record's line, with the documented limit
    assert message == ("alloc.yaml:19: plants.0.deductions.0: plant p: land_rent_per_year "
                       "10000000000000000 is above the limit of 10000000000 yuan")
    message = _error(YAML.replace("land_rent_per_year: 3660", "land_rent_per_year: "
                                  "'1e999999999'"))  # a string pydantic reads as a Decimal
    assert "land_rent_per_year 1E+999999999 is above the limit" in message


def test_yaml_problems_of_a_file_are_input_errors_with_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "alloc.yaml"
    for data, expected in (
        ((YAML + "x: !!binary 'junk'\n").encode(), ":20: tag !!binary is not allowed"),
        ("\n" + YAML.replace("甲村", "甲\x1b村"), ":7: character U+001B is not allowed"),
        (YAML.encode("gbk"), ":6: not UTF-8 (byte 0xbc at byte offset 144)"),
        (YAML.encode()[:YAML.encode().index("甲".encode()) + 2], ":6: not UTF-8 (the file "
                                                                 "ends inside a character)"),
        ("", ":1: (top): Input should be a valid dictionary"),
    ):
        path.write_bytes(data if isinstance(data, bytes) else data.encode())
        with pytest.raises(InputError) as e:
            load_inputs(path)
        assert str(e.value).startswith(f"{path}{expected}"), str(e.value)
