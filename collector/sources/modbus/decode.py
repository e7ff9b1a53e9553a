"""Per-device decoders, built once from a profile: register blocks -> canonical fields.

Scale factors are applied as the profile says (a SunSpec ``sunssf`` point, or a fixed scale).
A "not implemented" sentinel becomes ``None`` with quality NOT_IMPLEMENTED, never 0; a value
that cannot be right (a scale factor outside -10..10, a non-finite float, a value outside the
point's ``min``/``max``) becomes INVALID.

For counters of unsigned integer types (SunSpec acc32/acc64, vendor U32) the decoder also says
where the counter wraps, in the field's unit (``Decoded.wrap_at``), because that depends on the
scale factor in effect; the counter guard needs it to tell a wrap from a reset.

Speed: every poll of every device runs ``decode``, so everything that depends only on the
profile is resolved here, once (as Telegraf's converters are): one ``struct`` format per read
unpacks every point's raw value in one call, and the value points (sentinels, scale as an
integer mantissa and a power of ten, bounds) are written into one compiled function
(``decode_values.py``), so the poll does no dispatch on type strings. A scale is applied as a
division by a power of ten where it is one (0.1, 0.001), which gives the nearest double to the
decimal value without float noise. A meter's CT and PT ratio registers are read with every
poll, like scale factors, and multiply the points that name them (``ratio:``); a ratio that is
not implemented, zero or negative makes those points INVALID.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from types import MappingProxyType

from collector.reading import EMPTY, Quality
from collector.sources.modbus.codec import sentinel_raws
from collector.sources.modbus.decode_values import TEN, ValuePoint, compile_values
from collector.sources.modbus.plan import Read, locate, plan_reads
from config.profiles import Point, Profile

INF = float("inf")
_NO_RATIOS: list[float | None] = []
# counters of these types roll over to 0 after 2**bits counts
WRAP_BITS = {"acc32": 32, "acc64": 64, "uint32": 32, "uint64": 64, "uint16": 16}
STRUCT_CODE = {
    "uint16": "H", "int16": "h", "sunssf": "h", "enum16": "H", "bitfield16": "H", "count": "H",
    "pad": "H", "uint32": "I", "int32": "i", "acc32": "I", "float32": "f", "bitfield32": "I",
    "enum32": "I", "uint64": "Q", "int64": "q", "acc64": "Q",
}


@dataclass(slots=True)
class Decoded:
    fields: dict[str, float | None] = field(default_factory=dict)
    # absent means GOOD; EMPTY (shared, read-only) when every field is good
    quality: Mapping[str, Quality] = field(default_factory=lambda: EMPTY)
    status: str | None = None
    faults: tuple[int, ...] | None = None  # None: the profile has no fault registers
    wrap_at: Mapping[str, float] = field(default_factory=lambda: EMPTY)  # counter -> rollover


@dataclass(frozen=True, slots=True)
class _Layout:
    """How the raw values of one read's points come out of its bytes."""

    structs: tuple[struct.Struct, ...]  # one per layer of non-overlapping points
    swaps: tuple[tuple[int, int], ...]  # (byte offset, words) of low-word-first points
    nbytes: int


def _mantissa_exponent(scale: float, factor: float) -> tuple[int | float, int]:
    """``scale * factor`` as m * 10**e, m an integer where it can be (0.001, 1000 -> (1, 0))."""
    d = (Decimal(repr(scale)) * Decimal(repr(factor))).normalize()
    sign, digits, exponent = d.as_tuple()
    if not isinstance(exponent, int) or len(digits) > 15:
        return scale * factor, 0  # not a short decimal: multiply as it is
    m = int("".join(map(str, digits)) or "0")
    return (-m if sign else m), exponent


def _sentinels(profile: Profile, p: Point) -> frozenset[int]:
    """The raw values, as ``struct`` unpacks them, that mean "not implemented" for a point
    (the table's bit patterns, 0x8000 for an int16, as the signed values they unpack to)."""
    return sentinel_raws(profile.sentinels, p.type, p.sentinel)


class DeviceDecoder:
    """The read plan and decoders of one profile; shared by every device with that profile."""

    def __init__(self, profile: Profile, max_hole: int = 50) -> None:
        self.profile = profile
        self.max_hole = profile.hole_limit(max_hole)  # what the plan was built with
        self.max_count = profile.max_registers
        wanted = [p for p in profile.points if p.field or p.role in ("status", "faults")]
        wanted = [p for p in wanted if p.role != "ident"]
        sfs = sorted({p.sf for p in wanted if p.sf})
        # CT/PT ratio registers are read with every poll, like scale factors: a ratio changed
        # at the meter applies from the next reading on
        ratios = sorted({r for p in wanted for r in p.ratio})
        needed = wanted + [profile.by_name[name] for name in sfs + ratios]
        self.reads: list[Read] = plan_reads(needed, max_hole=self.max_hole,
                                            max_count=self.max_count,
                                            unreadable=profile.unreadable)
        self.covers: list[list[Point]] = [[] for _ in self.reads]  # for `pvrelief plan`
        unpacked = self._build_layouts(needed)
        self.fields = [p.field for p in wanted if p.role == "value" and p.field]
        # which fields are energy counters, and of which kind: carried on every reading (one
        # shared read-only mapping) so the counter guard needs nothing from the source
        self.counters: Mapping[str, str] = MappingProxyType({
            p.field: p.counter for p in profile.points
            if p.field and p.counter and p.role == "value"})
        sf_index = {name: i for i, name in enumerate(sfs)}
        sf_points = [profile.by_name[n] for n in sfs]
        self._sfs = tuple((unpacked[id(p)], _sentinels(profile, p)) for p in sf_points)
        ratio_index = {name: i for i, name in enumerate(ratios)}
        self._ratios = tuple(
            (unpacked[id(r)], _sentinels(profile, r), r.scale * r.factor)
            for r in (profile.by_name[name] for name in ratios))
        values = []
        fixed_wraps: dict[str, float] = {}
        sf_wraps = []
        for p in wanted:
            if p.role != "value" or not p.field:
                continue
            mant, exp = _mantissa_exponent(p.scale, p.factor)
            sfi = sf_index[p.sf] if p.sf else -1
            values.append(ValuePoint(p.field, unpacked[id(p)], _sentinels(profile, p), sfi,
                                     mant, exp, p.min, p.max, p.type == "float32",
                                     tuple(ratio_index[r] for r in p.ratio)))
            if p.counter and p.type in WRAP_BITS:
                wrap = 2.0 ** WRAP_BITS[p.type] * abs(p.scale * p.factor)
                if p.sf:
                    sf_wraps.append((p.field, sfi, wrap))
                else:
                    fixed_wraps[p.field] = wrap
        self._decode_values, self.values_source = compile_values(values)
        self._fixed_wraps = MappingProxyType(fixed_wraps) if fixed_wraps else EMPTY
        self._sf_wraps = tuple(sf_wraps)
        self._status = tuple((unpacked[id(p)], _sentinels(profile, p), p.enum or {})
                             for p in wanted if p.role == "status")
        # bit -> alarm id, resolved once; profile loading made sure every bit has one
        self._faults = tuple(
            (unpacked[id(p)], _sentinels(profile, p), p.type.startswith("bitfield"),
             tuple((p.codes or {}).items()), p.codes or {})
            for p in wanted if p.role == "faults")

    def _build_layouts(self, points: list[Point]) -> dict[int, int]:
        """One struct per read; returns where each point's raw value lands in the unpacked
        tuple of all reads, by ``id(point)`` (a point holds dicts: it cannot be hashed)."""
        by_read: list[list[tuple[int, Point]]] = [[] for _ in self.reads]
        for p in {id(p): p for p in points}.values():  # each point once, in order
            i, off = locate(p, self.reads)
            if p not in self.covers[i]:
                self.covers[i].append(p)
            by_read[i].append((off, p))
        index: dict[int, int] = {}
        layouts = []
        n = 0
        for r, members in zip(self.reads, by_read, strict=True):
            members.sort(key=lambda m: m[0])
            layers: list[list[tuple[int, Point]]] = []
            for off, p in members:  # overlapping points go to another layer
                layer = next((lay for lay in layers
                              if lay[-1][0] + lay[-1][1].size <= off), None)
                if layer is None:
                    layers.append(layer := [])
                layer.append((off, p))
            structs = []
            for layer in layers:
                fmt, pos = ">", 0
                for off, p in layer:
                    if off > pos:
                        fmt += f"{2 * (off - pos)}x"
                    fmt += STRUCT_CODE[p.type]
                    pos = off + p.size
                    index[id(p)] = n
                    n += 1
                if pos < r.count:  # to the read's end: its answer is exactly one format long
                    fmt += f"{2 * (r.count - pos)}x"
                structs.append(struct.Struct(fmt))
            swaps = tuple(sorted({(2 * off, p.size) for off, p in members
                                  if p.word_order == "little" and p.size > 1}))
            layouts.append(_Layout(tuple(structs), swaps, 2 * r.count))
        self._layouts = tuple(layouts)
        # one format per read (padded to its end above) and no word to swap: _unpack's
        # straight path
        self._simple = tuple(lay.structs[0] for lay in layouts) if all(
            len(lay.structs) == 1 and not lay.swaps for lay in layouts) else None
        return index

    def _unpack(self, blocks: Sequence[bytes | Sequence[int]]) -> tuple[int | float, ...]:
        simple = self._simple
        if simple is not None and len(blocks) == len(simple):
            # the usual poll: answers as bytes, one format per read, no word to swap
            try:
                raws: tuple[int | float, ...] = ()
                for st, block in zip(simple, blocks, strict=True):
                    raws += st.unpack(block)  # struct.error: not the read's length
                return raws
            except (struct.error, TypeError):
                pass  # the general path below says what is wrong
        raws = ()
        for lay, block in zip(self._layouts, blocks, strict=True):
            buf = block if isinstance(block, bytes) else _words_to_bytes(block)
            if len(buf) != lay.nbytes:
                raise ValueError(f"a block of {len(buf)} bytes for a read of {lay.nbytes}")
            if lay.swaps:
                buf = _swap_words(buf, lay.swaps)
            for st in lay.structs:
                raws += st.unpack_from(buf)
        return raws

    def decode(self, blocks: Sequence[bytes | Sequence[int]]) -> Decoded:
        """``blocks``: one per read, as the answer's bytes or as a list of register words."""
        raws = self._unpack(blocks)
        sfs = [None if (raw := raws[i]) in sentinels else raw for i, sentinels in self._sfs]
        ratios = [None if (raw := raws[i]) in sentinels or not 0 < (v := raw * gain) < INF
                  else v for i, sentinels, gain in self._ratios] if self._ratios else _NO_RATIOS
        fields, quality = self._decode_values(raws, sfs, ratios)
        out = Decoded(fields, EMPTY if quality is None else quality)
        if self._sf_wraps:
            wraps = dict(self._fixed_wraps)
            for name, sfi, wrap in self._sf_wraps:
                if fields.get(name) is not None:
                    wraps[name] = wrap * TEN[sfs[sfi]] if sfs[sfi] >= 0 else \
                        wrap / TEN[-sfs[sfi]]
            out.wrap_at = wraps
        else:
            out.wrap_at = self._fixed_wraps
        for i, sentinels, enum in self._status:
            raw = raws[i]
            if raw not in sentinels:
                state = enum.get(raw)
                out.status = state if state is not None else f"code_{raw}"
        if self._faults:
            faults: list[int] = []
            for i, sentinels, is_bits, bits, codes in self._faults:
                value = raws[i]
                if value in sentinels:
                    continue
                if not is_bits:
                    # a fault-code register (Sungrow 5045) holds the active code itself; 0 is
                    # none
                    if value:
                        faults.append(codes.get(value, value))
                elif value:
                    faults += [code for b, code in bits if value >> b & 1]
            out.faults = tuple(faults)
        return out


def _words_to_bytes(words: Sequence[int]) -> bytes:
    return struct.pack(f">{len(words)}H", *words)


def _swap_words(buf: bytes, swaps: tuple[tuple[int, int], ...]) -> bytes:
    """Put low-word-first values (Sungrow's U32) high word first, so one format reads all."""
    out = bytearray(buf)
    for off, words in swaps:
        for k in range(words):
            src = off + 2 * (words - 1 - k)
            out[off + 2 * k : off + 2 * k + 2] = buf[src : src + 2]
    return bytes(out)
