"""Garbage words never become good numbers: signed Sungrow registers, min/max bounds,
0xFFFF MPPT sentinels, and the meter sign convention (p_w > 0 is export to the grid).

Register words are written by hand here (``struct``, the document's word order and address
numbering), not produced by the simulator, so a profile that says U32 where the device sends
S32 fails.
"""

from __future__ import annotations

import struct

import pytest

from collector.reading import Quality
from collector.sources.modbus.decode import Decoded, DeviceDecoder
from config.profiles import Profile, load_registry

REGISTRY = load_registry()


def words_of(fmt: str, value: float, low_word_first: bool = False) -> list[int]:
    data = struct.pack(fmt, value)
    words = [int.from_bytes(data[i : i + 2], "big") for i in range(0, len(data), 2)]
    return words[::-1] if low_word_first else words


def decode(profile: Profile, registers: dict[int, list[int]], fill: int = 0) -> Decoded:
    """Decode with ``registers`` (wire address -> words) laid over ``fill``."""
    words: dict[int, int] = {}
    for address, ws in registers.items():
        for i, w in enumerate(ws):
            words[address + i] = w
    decoder = DeviceDecoder(profile)
    return decoder.decode([[words.get(a, fill) for a in range(r.address, r.end)]
                           for r in decoder.reads])


# Sungrow: document addresses count from 1 (wire = document - 1); 32-bit values low word first
def sungrow(doc_address: int) -> int:
    return doc_address - 1


def test_sungrow_power_at_night_is_a_small_negative_not_4_gigawatts() -> None:
    """A night's -5 W (0xFFFFFFFB) read as U32 was 4.29e9 W "good" (SunGather reads S32)."""
    sg = REGISTRY["sungrow-sg"]
    got = decode(sg, {
        sungrow(5017): words_of(">i", -5, low_word_first=True),  # total DC power, S32 W
        sungrow(5031): words_of(">i", -5, low_word_first=True),  # total active power, S32 W
        sungrow(5022): words_of(">h", -3),  # phase A current, 0.1 A: -0.3 A
    })
    assert got.fields["p_ac_w"] == -5.0 and "p_ac_w" not in got.quality
    assert got.fields["p_dc_w"] == -5.0
    assert got.fields["i_ac_l1_a"] == pytest.approx(-0.3)


@pytest.mark.parametrize(("doc_address", "fmt", "raw", "field"), [
    (5031, ">i", 2_000_000_000, "p_ac_w"),  # 2 GW from a 110 kW inverter
    (5017, ">i", -1_000_000, "p_dc_w"),  # -1 MW
    (5008, ">h", 3000, "t_internal_c"),  # 300.0 degC
    (5019, ">H", 20000, "v_ac_l1_v"),  # 2000.0 V on a 230/400 V grid
    (5036, ">H", 0, "f_ac_hz"),  # 0 Hz while running
])
def test_sungrow_values_outside_their_bounds_are_invalid(doc_address: int, fmt: str,
                                                         raw: int, field: str) -> None:
    sg = REGISTRY["sungrow-sg"]
    low_first = fmt in (">i", ">I")
    # a plausible 50.0 Hz around the garbage word (unless the garbage is the frequency)
    got = decode(sg, {sungrow(5036): words_of(">H", 500),
                      sungrow(doc_address): words_of(fmt, raw, low_first)})
    assert got.fields[field] is None, f"{field} stored as {got.fields[field]}"
    assert got.quality[field] is Quality.INVALID


def test_sungrow_mppt_registers_of_a_missing_input_are_not_implemented() -> None:
    sg = REGISTRY["sungrow-sg"]
    got = decode(sg, {sungrow(5011): [6120, 185], sungrow(5015): [0xFFFF, 0xFFFF]})
    assert got.fields["pv1_v_v"] == 612.0 and got.fields["pv1_i_a"] == 18.5
    for field in ("pv3_v_v", "pv3_i_a"):
        assert got.fields[field] is None and got.quality[field] is Quality.NOT_IMPLEMENTED


def test_huawei_bounds() -> None:
    hw = REGISTRY["huawei-sun2000"]
    got = decode(hw, {
        32080: words_of(">i", 52_340),  # active power, I32 kW gain 1000: 52.34 kW
        32087: words_of(">h", 412),  # internal temperature, gain 10: 41.2 degC
        32064: words_of(">i", 900_000),  # input power 900 kW on a 100 kW inverter
        32069: words_of(">H", 12_000),  # Ua 1200.0 V
    })
    assert got.fields["p_ac_w"] == pytest.approx(52_340.0)
    assert got.fields["t_internal_c"] == pytest.approx(41.2)
    for field in ("p_dc_w", "v_ac_l1_v"):
        assert got.fields[field] is None and got.quality[field] is Quality.INVALID


# -- the meter sign convention: p_w > 0 is export to the grid -------------------------------
def test_chint_forward_power_is_import_so_p_w_is_negative() -> None:
    """DTSU666 Pt is positive for power taken from the grid ("forward"); the profile's
    `invert: true` turns it round: 1500.0 W imported is p_w = -1500."""
    chint = REGISTRY["chint-dtsu666"]
    direct = {0x0006: [1], 0x0007: [10]}  # IrAt 1, UrAt 1.0: no transformers
    got = decode(chint, {0x2012: words_of(">f", 15_000.0),  # Pt in 0.1 W: 1500 W forward
                         0x2044: words_of(">f", 5000.0), **direct})
    assert got.fields["p_w"] == pytest.approx(-1500.0)
    got = decode(chint, {0x2012: words_of(">f", -52_000.0), **direct})  # 5.2 kW reverse: export
    assert got.fields["p_w"] == pytest.approx(5200.0)


def test_sunspec_meter_w_is_export_positive_as_is() -> None:
    """SunSpec model 203 W is positive when the meter delivers to the grid: passed as-is."""
    meter = REGISTRY["sunspec-meter"]
    w = next(p for p in meter.points if p.field == "p_w")
    w_sf = meter.by_name["203.W_SF"]
    got = decode(meter, {w.address: words_of(">h", 520), w_sf.address: words_of(">h", 1)})
    assert got.fields["p_w"] == pytest.approx(5200.0)
