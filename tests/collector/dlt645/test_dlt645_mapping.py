"""What a DL/T 645 meter says, mapped into pvrelief's meter reading: sides, signs, ratios."""

from __future__ import annotations

import pytest

from collector.sources.dlt645.codec import decoders
from collector.sources.dlt645.mapping import MeterMapping
from config.dlt645_identifiers import load_catalog
from config.dlt645_schema import Dlt645Meter
from config.fields import field_bounds

CATALOG = load_catalog()
DECODERS = decoders(CATALOG)


def mapping(export_is: str, ct: float = 1.0, pt: float = 1.0) -> MeterMapping:
    meter = Dlt645Meter(id="gk", address="000012345678", export_is=export_is,  # type: ignore
                        ct_ratio=ct, pt_ratio=pt)
    return MeterMapping(meter, CATALOG, "Asia/Shanghai")


def test_every_field_it_can_produce_has_bounds() -> None:
    bounds = field_bounds()
    names = {t.name for m in (mapping("reverse"), mapping("forward")) for t in m.targets.values()}
    assert {n for n in names if bounds.rule(n) is None} == set()
    assert bounds.rule("clock_offset_s") is not None


@pytest.mark.parametrize("export_is", ["reverse", "forward"])
def test_sides_and_signs(export_is: str) -> None:
    m = mapping(export_is, ct=80, pt=1)
    # forward energy block: total 10.00, tariffs 1..4 = 1.00 .. 4.00 kWh (secondary)
    fwd = DECODERS[0x0001FF00].decode(bytes.fromhex("00100000" "00010000" "00020000"
                                                    "00030000" "00040000"))
    # active power -1.5 kW (the meter's reverse direction): 015000 -> 00 50 01, sign -> 81
    p = DECODERS[0x02030000].decode(bytes.fromhex("005081"))
    # phase A voltage 230.0 V, current -2.000 A
    v = DECODERS[0x02010100].decode(bytes.fromhex("0023"))
    i = DECODERS[0x02020100].decode(bytes.fromhex("002080"))
    fields = m.fields([*fwd, *p, *v, *i], 0)
    side = "e_import" if export_is == "reverse" else "e_export"
    assert fields[f"{side}_kwh"] == pytest.approx(10.0 * 80)
    assert fields[f"{side}_t3_kwh"] == pytest.approx(3.0 * 80)
    # reverse power is export: positive in pvrelief when the meter counts export as reverse
    assert fields["p_w"] == pytest.approx(1500 * 80 * (1 if export_is == "reverse" else -1))
    assert fields["i_l1_a"] == pytest.approx(2.0 * 80 * (1 if export_is == "reverse" else -1))
    assert fields["v_l1_v"] == pytest.approx(230.0)  # no voltage transformer
    assert m.counters[f"{side}_kwh"] == "lifetime"
    assert m.wrap_at[f"{side}_t3_kwh"] == pytest.approx(1_000_000 * 80)


def test_voltages_scale_by_the_voltage_transformer_only() -> None:
    m = mapping("reverse", ct=60, pt=100)
    v = DECODERS[0x02010100].decode(bytes.fromhex("7705"))  # 57.7 V on a PT's secondary
    e = DECODERS[0x00020000].decode(bytes.fromhex("00000100"))  # 100.00 kWh
    fields = m.fields([*v, *e], 0)
    assert fields["v_l1_v"] == pytest.approx(5770.0)
    assert fields["e_export_kwh"] == pytest.approx(100.0 * 6000)
