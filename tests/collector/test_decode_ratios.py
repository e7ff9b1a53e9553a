"""CT/PT ratios read from the meter multiply its secondary-side values, or make them invalid.

Register words are packed by hand (``struct``, the DTSU666 manual's float32 high word first),
not by the simulator.
"""

from __future__ import annotations

import struct

import pytest

from collector.reading import Quality
from collector.sources.modbus.decode import Decoded, DeviceDecoder
from config.profiles import load_registry

CHINT = load_registry()["chint-dtsu666"]


def f32(value: float) -> list[int]:
    data = struct.pack(">f", value)
    return [int.from_bytes(data[:2], "big"), int.from_bytes(data[2:], "big")]


def decode(irat: int, urat: int) -> Decoded:
    words: dict[int, int] = {0x0006: irat, 0x0007: urat}
    for address, value in {0x2006: 2300.0, 0x200C: 4500.0, 0x2012: -2_500_000.0,
                           0x2044: 5000.0, 0x1028: 1000.0}.items():
        words[address], words[address + 1] = f32(value)
    decoder = DeviceDecoder(CHINT)
    return decoder.decode([[words.get(a, 0) for a in range(r.address, r.end)]
                           for r in decoder.reads])


def test_the_ratios_are_read_with_every_poll() -> None:
    reads = DeviceDecoder(CHINT).reads
    assert any(r.address <= 0x0006 and r.end >= 0x0008 for r in reads)


@pytest.mark.parametrize(("irat", "urat", "ct", "pt"), [(1, 10, 1, 1.0), (80, 10, 80, 1.0),
                                                       (40, 100, 40, 10.0)])
def test_primary_side_values(irat: int, urat: int, ct: float, pt: float) -> None:
    got = decode(irat, urat)
    assert got.fields["v_l1_v"] == pytest.approx(230.0 * pt)
    assert got.fields["i_l1_a"] == pytest.approx(4.5 * ct)
    assert got.fields["p_w"] == pytest.approx(250_000.0 * ct * pt)  # reverse: export
    assert got.fields["e_export_kwh"] == pytest.approx(1000.0 * ct * pt)
    assert got.fields["f_hz"] == pytest.approx(50.0)  # no ratio for frequency


def test_a_ratio_of_zero_makes_its_points_invalid_not_zero() -> None:
    got = decode(0, 10)  # IrAt 0: a meter that answers garbage for its CT ratio
    for name in ("i_l1_a", "p_w", "e_export_kwh"):
        assert got.fields[name] is None and got.quality[name] is Quality.INVALID, name
    assert got.fields["v_l1_v"] == pytest.approx(230.0)  # UrAt is fine: voltages are good
    assert got.fields["f_hz"] == pytest.approx(50.0)
