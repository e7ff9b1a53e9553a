"""The simulated DL/T 645 meter, read with the collector's codec: two independent
implementations of the standard must agree, and the meter must show what a real one shows."""

from __future__ import annotations

import ast
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from collector.sources.dlt645.codec import (
    address_reply,
    address_request,
    decoders,
    followup_request,
    read_reply,
    read_request,
)
from collector.sources.dlt645.errors import ChecksumError, ErrorReply
from collector.sources.dlt645.frame import Frame, FrameBuffer, decode_frame, encode_frame
from config.dlt645_identifiers import load_catalog
from simulator.dlt645_meter import TARIFF_OF_HOUR, SimDlt645Meter
from simulator.dlt645_wire import RequestReader, encode_value

CATALOG = load_catalog()
DECODERS = decoders(CATALOG)
ROOT = Path(__file__).resolve().parents[2]
SHANGHAI = ZoneInfo("Asia/Shanghai")
NOON = int(datetime(2020, 6, 21, 4, 0, tzinfo=UTC).timestamp() * 1e9)  # 12:00 in Shanghai


def meter(**kw: object) -> SimDlt645Meter:
    args: dict[str, object] = dict(id="gk", plant="p", address="000012345678",
                                   export_is="reverse", catalog=CATALOG, tz=SHANGHAI,
                                   e_export_wh=5e8, e_import_wh=2e6, now_ns=NOON)
    args.update(kw)
    return SimDlt645Meter(**args)  # type: ignore[arg-type]


def ask(m: SimDlt645Meter, raw: bytes) -> Frame | None:
    (req,) = RequestReader().push(raw)
    answer = m.answer(req) if m.addressed_by(req.address) else None
    return None if answer is None else decode_frame(answer)


def read(m: SimDlt645Meter, di: int, address: str = "000012345678") -> dict[str, float]:
    reply = ask(m, read_request(address, di))
    assert reply is not None
    part = read_reply(reply, address, di)
    return {v.ident.field or v.ident.text: v.value for v in DECODERS[di].decode(part.payload)}


# -- the simulator is an independent party -------------------------------------------------------
DLT645_MODULES = sorted((ROOT / "simulator").glob("dlt645_*.py"))


@pytest.mark.parametrize("path", DLT645_MODULES, ids=lambda p: p.name)
def test_simulator_dlt645_modules_never_import_the_collector(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                 else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
        assert not any(n == "collector" or n.startswith("collector.") for n in names), path


def test_importing_the_dlt645_simulator_loads_no_collector_module() -> None:
    code = ("import sys, simulator.dlt645_wire, simulator.dlt645_meter, "
            "simulator.dlt645_gateway, simulator.dlt645_fleet;"
            "print([m for m in sys.modules if m.split('.')[0] == 'collector'])")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, check=True).stdout
    assert out.strip() == "[]"


# -- the two codecs agree -----------------------------------------------------------------------
NUMBERS = [i for i in CATALOG.identifiers.values() if i.kind == "number" and not i.is_block]


@given(st.sampled_from(NUMBERS), st.floats(-1e7, 1e7, allow_nan=False))
def test_simulator_values_decode_with_the_collectors_decoder(ident, value: float) -> None:
    if not ident.signed and not ident.counter:
        value = abs(value)
    (got,) = DECODERS[ident.di].decode(encode_value(ident, value))
    step = ident.scale / 10**ident.decimals
    top = (10 ** (2 * ident.size) - 1) * step
    if ident.counter:  # a counter rolls over, as a meter's register does
        expected = round(value / step) % round(top / step + 1) * step
    else:
        limit = top * 0.8 if ident.signed else top  # the sign takes bit 7 of the top digit
        expected = max(-limit, min(limit, value))
    assert got.value == pytest.approx(expected, abs=step)


@given(st.datetimes(datetime(2000, 1, 1), datetime(2099, 12, 31)))
def test_simulator_clock_decodes(when: datetime) -> None:
    (d,) = DECODERS[0x04000101].decode(encode_value(CATALOG.identifiers[0x04000101], when))
    (t,) = DECODERS[0x04000102].decode(encode_value(CATALOG.identifiers[0x04000102], when))
    assert d.raw == when.date() and t.raw == when.time().replace(microsecond=0)


@given(st.lists(st.integers(0, 99), min_size=6, max_size=6), st.integers(0, 0xFFFFFFFF))
def test_collector_requests_parse_in_the_simulator(digits: list[int], di: int) -> None:
    address = "".join(f"{d:02d}" for d in digits)
    m = meter(address=address)
    (req,) = RequestReader().push(b"\x00\x16" + read_request(address, di))
    assert m.addressed_by(req.address) and req.control == 0x11
    assert int.from_bytes(req.data, "little") == di


def test_a_request_with_a_bad_checksum_goes_unheard() -> None:
    raw = bytearray(read_request("000012345678", 0x00010000))
    raw[-2] ^= 1
    assert RequestReader().push(bytes(raw)) == []


# -- what the meter shows -----------------------------------------------------------------------
def test_export_is_reverse_energy_when_the_meter_says_so() -> None:
    m = meter(export_is="reverse")
    m.advance(3600, 50_000, NOON)  # an hour ramping from 0 to 50 kW, 1.5% line loss
    assert m.e_export_wh == pytest.approx(5e8 + 50_000 * 0.985 / 2)
    got = read(m, 0x0002FF00)  # reverse: export
    assert got["e_reverse_kwh"] == pytest.approx(m.e_export_wh / 1e3, abs=0.01)
    assert got["e_reverse_kwh"] == pytest.approx(
        sum(got[f"e_reverse_t{n}_kwh"] for n in range(1, 5)), abs=0.05)
    assert read(m, 0x00010000)["e_forward_kwh"] == pytest.approx(2000.0, abs=0.01)
    # the meter counts its forward direction positive: export is negative power on it
    assert read(m, 0x02030000)["p_w"] == pytest.approx(-49_250, abs=0.1)
    assert read(m, 0x02020100)["i_l1_a"] < 0
    flipped = meter(export_is="forward")
    flipped.advance(3600, 50_000, NOON)
    assert read(flipped, 0x00010000)["e_forward_kwh"] == pytest.approx(
        flipped.e_export_wh / 1e3, abs=0.01)
    assert read(flipped, 0x02030000)["p_w"] == pytest.approx(49_250, abs=0.1)
    # XX.XXXX kW signed shows at most 79.9999 kW: bigger plants meter through transformers
    flipped.advance(60, 100_000, NOON)
    assert read(flipped, 0x02030000)["p_w"] == pytest.approx(79_999.9)


def test_energy_goes_to_the_tariff_of_the_local_hour() -> None:
    m = meter()
    before = list(m.tariff_export_wh)
    m.advance(60, 50_000, NOON)  # 11:59:30 local, the step's middle: flat (3)
    assert TARIFF_OF_HOUR[11] == 3
    grew = [a != b for a, b in zip(m.tariff_export_wh, before, strict=True)]
    assert grew == [False, False, True, False]


def test_behind_instrument_transformers_it_shows_secondary_values() -> None:
    # 10 kV metering: CT 300/5 (60), PT 10 kV/100 V (100): energy and power / 6000
    m = meter(ct_ratio=60, pt_ratio=100)
    m.advance(3600, 1_000_000, NOON)
    got = read(m, 0x00020000)
    assert got["e_reverse_kwh"] == pytest.approx(m.e_export_wh / 1e3 / 6000, abs=0.01)
    assert read(m, 0x02030000)["p_w"] == pytest.approx(-985_000 / 6000, abs=0.1)
    assert read(m, 0x02010100)["v_l1_v"] == pytest.approx(57.4)  # a PT's secondary
    assert read(m, 0x04000306)["04 00 03 06"] == 60
    assert read(m, 0x04000307)["04 00 03 07"] == 100


def test_counters_roll_over_like_a_four_byte_register() -> None:
    m = meter(e_export_wh=999_999_990.0)  # 999999.99 kWh
    m.advance(3600, 7_200, NOON)  # about 3.5 kWh more
    assert read(m, 0x00020000)["e_reverse_kwh"] == pytest.approx(
        m.e_export_wh / 1e3 - 1_000_000, abs=0.01)


def test_meter_clock_is_local_time() -> None:
    m = meter()
    reply = ask(m, read_request(m.address, 0x04000102))
    assert reply is not None
    (t,) = DECODERS[0x04000102].decode(read_reply(reply, m.address, 0x04000102).payload)
    assert t.raw.hour == 12 and t.raw.minute == 0


def test_unknown_data_and_writes_get_error_replies() -> None:
    m = meter()
    reply = ask(m, read_request(m.address, 0x00090000))
    with pytest.raises(ErrorReply, match="no requested data"):
        read_reply(reply, m.address, 0x00090000)  # type: ignore[arg-type]
    # write data (14H) with some payload: refused, unauthorised
    write = ask(m, encode_frame(Frame(m.address, 0x14, bytes(12))))
    assert write is not None and write.control == 0xD4 and write.data == b"\x04"
    assert m.controls[0x14] == 1


def test_addressing_wildcards_and_broadcast() -> None:
    m = meter()
    assert ask(m, read_request("000012345679", 0x00010000)) is None
    assert ask(m, read_request("AAAAAAAA5678", 0x00010000)) is not None
    assert ask(m, read_request("999999999999", 0x00010000)) is None
    reply = ask(m, address_request())
    assert reply is not None and address_reply(reply) == "000012345678"


def test_a_long_answer_comes_in_follow_up_frames() -> None:
    m = meter(max_reply_data=12)  # 4 DI bytes + 8 value bytes per frame
    whole = meter().value_bytes(CATALOG.identifiers[0x0002FF00])
    assert whole is not None and len(whole) == 20
    first = ask(m, read_request(m.address, 0x0002FF00))
    assert first is not None and first.control == 0xB1  # 91H with the follow-up bit
    parts = [read_reply(first, m.address, 0x0002FF00)]
    seq = 1
    while parts[-1].more:
        reply = ask(m, followup_request(m.address, 0x0002FF00, seq))
        assert reply is not None
        parts.append(read_reply(reply, m.address, 0x0002FF00, followup=True))
        assert parts[-1].seq == seq
        seq += 1
    # 20 value bytes: 8 in the first frame (12 - 4 DI bytes), then 7 and 5 in follow-ups
    # (12 - 4 DI bytes - 1 sequence byte)
    assert [len(p.payload) for p in parts] == [8, 7, 5]
    assert b"".join(p.payload for p in parts) == whole
    # a follow-up nobody asked for
    stray = ask(m, followup_request(m.address, 0x0002FF00, 9))
    assert stray is not None and stray.control == 0xD2


def test_faults_bad_checksum_error_and_silence() -> None:
    m = meter()
    m.bad_checksum = True
    raw = m.answer(RequestReader().push(read_request(m.address, 0x00010000))[0])
    assert raw is not None
    buf = FrameBuffer()
    buf.feed(raw)
    with pytest.raises(ChecksumError):
        buf.pop()
    m.bad_checksum, m.error_code = False, 0x01
    reply = ask(m, read_request(m.address, 0x00010000))
    with pytest.raises(ErrorReply, match="other error"):
        read_reply(reply, m.address, 0x00010000)  # type: ignore[arg-type]
    m.error_code, m.silent = None, True
    assert ask(m, read_request(m.address, 0x00010000)) is None
    m.silent = False
    m.overrides["e_export_kwh"] = 0.0
    assert read(m, 0x00020000)["e_reverse_kwh"] == 0.0
