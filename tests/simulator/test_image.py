"""The register image: values too small for a type are clamped, never taken for overflow."""

from __future__ import annotations

from collector.sources.modbus.codec import words_to_int
from config.profiles import load_registry
from simulator.image import RegisterImage


def _raw(img: RegisterImage, name: str) -> int:
    p = img.profile.by_name[name]
    words = img.read(p.table, p.address, p.size)
    assert words is not None
    return words_to_int(words, p.word_order)


def test_acc32_zero_is_served_as_one_and_keeps_the_scale_factor() -> None:
    img = RegisterImage(load_registry()["sunspec-inverter"])
    img.set_field("e_total_kwh", 1234.5)
    assert _raw(img, "103.WH_SF") == 0 and _raw(img, "103.WH") == 1_234_500
    img.set_field("e_total_kwh", 0.0)  # a counter reset to zero
    # 0 is SunSpec's "not implemented" for acc32: the smallest real count is served instead,
    # and the scale factor stays where it was (it used to climb to 10: ~1e7 kWh forever)
    assert _raw(img, "103.WH_SF") == 0 and _raw(img, "103.WH") == 1
    img.set_field("e_total_kwh", 1300.0)
    assert _raw(img, "103.WH_SF") == 0 and _raw(img, "103.WH") == 1_300_000


def test_a_negative_value_for_an_unsigned_register_is_clamped_to_zero() -> None:
    img = RegisterImage(load_registry()["sunspec-inverter"])
    assert _raw(img, "103.V_SF") == 0xFFFF  # -1
    img.set_field("v_ac_l1_v", -5.0)  # uint16 PhVphA: nothing below 0 to show
    assert _raw(img, "103.PhVphA") == 0 and _raw(img, "103.V_SF") == 0xFFFF


def test_a_value_too_big_still_coarsens_the_scale_factor() -> None:
    img = RegisterImage(load_registry()["sunspec-inverter"])
    img.set_field("e_total_kwh", 5_000_000.0)  # 5e9 Wh does not fit 32 bits at sf 0
    assert _raw(img, "103.WH_SF") == 1 and _raw(img, "103.WH") == 500_000_000
