"""Hypothesis: frames and values survive a round trip, and no input makes the decoder raise
anything but the codec's own errors (random bytes, truncated frames, noise before a frame)."""

from __future__ import annotations

import contextlib

from hypothesis import given, settings
from hypothesis import strategies as st

from collector.sources.dlt645.bcd import bcd_int, int_bcd
from collector.sources.dlt645.codec import address_reply, decoders, read_reply
from collector.sources.dlt645.errors import Dlt645Error
from collector.sources.dlt645.frame import Frame, FrameBuffer, decode_frame, encode_frame
from config.dlt645_identifiers import load_catalog

CATALOG = load_catalog()
DECODERS = decoders(CATALOG)
PLAIN = [i for i in CATALOG.identifiers.values() if i.kind == "number" and not i.is_block]

pair = st.integers(0, 99).map(lambda n: f"{n:02d}")
addresses = st.lists(st.one_of(pair, st.just("AA")), min_size=6, max_size=6).map("".join)
meter_addresses = st.lists(pair, min_size=6, max_size=6).map("".join)
frames = st.builds(Frame, addresses, st.integers(0, 255), st.binary(max_size=200))


@given(frames, st.integers(0, 4))
def test_frame_round_trip(frame: Frame, preamble: int) -> None:
    assert decode_frame(encode_frame(frame, preamble)) == frame


@given(st.lists(frames, min_size=1, max_size=4), st.data())
def test_buffer_round_trip_in_any_pieces(sent: list[Frame], data: st.DataObject) -> None:
    stream = b"".join(encode_frame(f, data.draw(st.integers(0, 4))) for f in sent)
    buf = FrameBuffer()
    got: list[Frame] = []
    i = 0
    while i < len(stream):
        n = data.draw(st.integers(1, 40))
        buf.feed(stream[i : i + n])
        i += n
        while (f := buf.pop()) is not None:
            got.append(f)
    assert got == sent and buf.noise == 0


@given(st.integers(1, 6), st.booleans(), st.data())
def test_bcd_round_trip(size: int, signed: bool, data: st.DataObject) -> None:
    limit = 8 * 10 ** (2 * size - 1) if signed else 10 ** (2 * size)
    value = data.draw(st.integers(-limit + 1 if signed else 0, limit - 1))
    assert bcd_int(int_bcd(value, size, signed), "v", signed) == value


def _by_hand(digits: int, size: int, negative: bool) -> bytes:
    """The standard's layout written out independently: decimal digits, two per byte, lowest
    byte first, the sign in bit 7 of the highest byte."""
    text = str(digits).rjust(2 * size, "0")
    out = [int(text[i], 10) << 4 | int(text[i + 1], 10) for i in range(0, 2 * size, 2)][::-1]
    if negative:
        out[-1] |= 0x80
    return bytes(out)


@given(st.sampled_from(PLAIN), st.data())
def test_every_number_identifier_decodes_the_standard_layout(ident, data: st.DataObject) -> None:
    top = 8 * 10 ** (2 * ident.size - 1) if ident.signed else 10 ** (2 * ident.size)
    digits = data.draw(st.integers(0, top - 1))
    negative = ident.signed and digits > 0 and data.draw(st.booleans())
    (v,) = DECODERS[ident.di].decode(_by_hand(digits, ident.size, negative))
    expected = (-digits if negative else digits) / 10**ident.decimals * ident.scale
    assert v.raw == (-digits if negative else digits)
    assert abs(v.value - expected) <= abs(expected) * 1e-12


# -- fuzz: only the codec's own errors, whatever arrives ----------------------------------------
@settings(max_examples=400)
@given(st.binary(max_size=300))
def test_random_bytes(raw: bytes) -> None:
    with contextlib.suppress(Dlt645Error):
        decode_frame(raw)
    buf = FrameBuffer()
    buf.feed(raw)
    _drain(buf)


def _drain(buf: FrameBuffer) -> list[Frame]:
    out = []
    for _ in range(400):  # each pop consumes at least a byte or returns None
        try:
            f = buf.pop()
        except Dlt645Error:
            continue
        if f is None:
            break
        out.append(f)
    return out


@settings(max_examples=300)
@given(frames, st.data())
def test_truncated_frames(frame: Frame, data: st.DataObject) -> None:
    raw = encode_frame(frame, data.draw(st.integers(0, 4)))
    cut = data.draw(st.integers(0, len(raw) - 1))
    try:
        decode_frame(raw[:cut])
    except Dlt645Error:
        pass
    else:
        raise AssertionError("a truncated frame decoded")


@settings(max_examples=300)
@given(st.binary(max_size=60).map(lambda b: b.replace(b"\x68", b"")), frames)
def test_noise_without_a_start_byte_is_skipped_and_counted(noise: bytes, frame: Frame) -> None:
    buf = FrameBuffer()
    buf.feed(noise + encode_frame(frame) + encode_frame(frame))
    assert _drain(buf) == [frame, frame]
    assert buf.noise == sum(1 for b in noise if b != 0xFE)


@settings(max_examples=300)
@given(st.binary(max_size=60), frames)
def test_noise_with_false_starts_never_hides_a_frame(noise: bytes, frame: Frame) -> None:
    # a false start in the noise may claim bytes of the first copy, and a phantom frame with a
    # good checksum may even be made of noise; but the second copy is never lost unless the
    # buffer was fooled by such a phantom
    buf = FrameBuffer()
    buf.feed(noise + encode_frame(frame) + encode_frame(frame))
    got = _drain(buf)
    assert (got and got[-1] == frame) or any(f != frame for f in got)


@settings(max_examples=300)
@given(st.binary(min_size=1, max_size=30), frames)
def test_a_false_start_waiting_for_bytes_gives_way_to_a_whole_frame(noise: bytes,
                                                                     frame: Frame) -> None:
    # noise that looks like the header of a 200-byte frame, then one real frame: the buffer
    # must not wait for the phantom's missing bytes
    phantom = b"\x68" + noise[:6].ljust(6, b"\x00") + b"\x68\x91\xc8"
    buf = FrameBuffer()
    buf.feed(phantom + encode_frame(frame))
    assert buf.pop() == frame


@settings(max_examples=400)
@given(st.sampled_from(sorted(CATALOG.identifiers)), st.binary(max_size=40), meter_addresses,
       st.integers(0, 255))
def test_random_replies_and_payloads(di: int, payload: bytes, address: str, control: int) -> None:
    with contextlib.suppress(Dlt645Error):
        DECODERS[di].decode(payload)
    reply = Frame(address, control, di.to_bytes(4, "little") + payload)
    for call in (lambda: read_reply(reply, address, di),
                 lambda: read_reply(reply, address, di, followup=True),
                 lambda: address_reply(reply)):
        with contextlib.suppress(Dlt645Error):
            call()
