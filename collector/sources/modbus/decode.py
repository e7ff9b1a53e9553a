"""Per-device decoders, built once from a profile: register blocks -> canonical fields.

Scale factors are applied as the profile says (a SunSpec ``sunssf`` point, or a fixed scale).
A "not implemented" sentinel becomes ``None`` with quality NOT_IMPLEMENTED, never 0; a value
that cannot be right (a scale factor outside -10..10, a non-finite float, a value outside the
point's ``min``/``max``) becomes INVALID.

For counters of unsigned integer types (SunSpec acc32/acc64, vendor U32) the decoder also says
where the counter wraps, in the field's unit (``Decoded.wrap_at``), because that depends on the
scale factor in effect; the counter guard needs it to tell a wrap from a reset.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

from collector.reading import Quality
from collector.sources.modbus.codec import decode_raw, is_sentinel
from collector.sources.modbus.plan import Read, locate, plan_reads
from config.profiles import Point, Profile

SF_RANGE = range(-10, 11)
# counters of these types roll over to 0 after 2**bits counts
WRAP_BITS = {"acc32": 32, "acc64": 64, "uint32": 32, "uint64": 64, "uint16": 16}


@dataclass(slots=True)
class Decoded:
    fields: dict[str, float | None] = field(default_factory=dict)
    quality: dict[str, Quality] = field(default_factory=dict)
    status: str | None = None
    faults: tuple[int, ...] | None = None  # None: the profile has no fault registers
    wrap_at: dict[str, float] = field(default_factory=dict)  # counter field -> rollover


@dataclass(frozen=True, slots=True)
class _Slot:
    point: Point
    read: int
    offset: int


class DeviceDecoder:
    """The read plan and decoders of one profile; shared by every device with that profile."""

    def __init__(self, profile: Profile, max_hole: int = 50) -> None:
        self.profile = profile
        self.max_hole = profile.hole_limit(max_hole)  # what the plan was built with
        self.max_count = profile.max_registers
        wanted = [p for p in profile.points if p.field or p.role in ("status", "faults")]
        wanted = [p for p in wanted if p.role != "ident"]
        sfs = {p.sf for p in wanted if p.sf}
        # CT/PT ratio registers are read with every poll, like scale factors: a ratio changed
        # at the meter applies from the next reading on
        ratios = sorted({r for p in wanted for r in p.ratio} - {p.name for p in wanted})
        needed = wanted + [profile.by_name[name] for name in sorted(sfs) + ratios]
        self.reads: list[Read] = plan_reads(needed, max_hole=self.max_hole,
                                            max_count=self.max_count,
                                            unreadable=profile.unreadable)
        self.covers: list[list[Point]] = [[] for _ in self.reads]  # for `pvrelief plan`
        self._values = [self._slot(p) for p in wanted if p.role == "value"]
        self._sfs = {name: self._slot(profile.by_name[name]) for name in sfs}
        self._ratios = {name: self._slot(profile.by_name[name])
                        for name in sorted({r for p in wanted for r in p.ratio})}
        self._status = [self._slot(p) for p in wanted if p.role == "status"]
        self._faults = [self._slot(p) for p in wanted if p.role == "faults"]
        # bit -> alarm id, resolved once; profile loading made sure every bit has one
        self._fault_bits = [tuple((slot.point.codes or {}).items()) for slot in self._faults]
        self.fields = [p.field for p in wanted if p.role == "value" and p.field]
        # which fields are energy counters, and of which kind: carried on every reading (one
        # shared read-only mapping) so the counter guard needs nothing from the source
        self.counters: Mapping[str, str] = MappingProxyType({
            p.field: p.counter for p in profile.points
            if p.field and p.counter and p.role == "value"})

    def _slot(self, p: Point) -> _Slot:
        i, off = locate(p, self.reads)
        if p not in self.covers[i]:
            self.covers[i].append(p)
        return _Slot(p, i, off)

    def _raw(self, slot: _Slot, blocks: Sequence[Sequence[int]]) -> int | float | str:
        p = slot.point
        words = blocks[slot.read][slot.offset : slot.offset + p.size]
        return decode_raw(p.type, list(words), p.word_order)

    def decode(self, blocks: Sequence[Sequence[int]]) -> Decoded:
        fam = self.profile.sentinels
        out = Decoded()
        sf_values: dict[str, int | None] = {}
        for name, slot in self._sfs.items():
            raw = self._raw(slot, blocks)
            sf_values[name] = None if is_sentinel(fam, "sunssf", raw, slot.point.sentinel) \
                else int(raw)
        ratios = {name: self._ratio(slot, blocks) for name, slot in self._ratios.items()}
        for slot in self._values:
            p = slot.point
            assert p.field is not None
            raw = self._raw(slot, blocks)
            if is_sentinel(fam, p.type, raw, p.sentinel):
                out.fields[p.field] = None
                out.quality[p.field] = Quality.NOT_IMPLEMENTED
                continue
            value = float(raw)  # type: ignore[arg-type]
            if p.sf is not None:
                sf = sf_values[p.sf]
                if sf is None:
                    out.fields[p.field] = None
                    out.quality[p.field] = Quality.NOT_IMPLEMENTED
                    continue
                if sf not in SF_RANGE:
                    out.fields[p.field] = None
                    out.quality[p.field] = Quality.INVALID
                    continue
                value = value * 10.0**sf
            else:
                sf = 0
            value = value * p.scale * p.factor
            for r in p.ratio:  # a meter's secondary-side value times its CT/PT ratios
                value = value * ratios[r] if ratios[r] is not None else math.nan
            if not math.isfinite(value) or (p.min is not None and value < p.min) or \
                    (p.max is not None and value > p.max):
                out.fields[p.field] = None
                out.quality[p.field] = Quality.INVALID
                continue
            out.fields[p.field] = round(value, 9)  # drop float noise from 10**sf products
            if p.counter and p.type in WRAP_BITS:
                out.wrap_at[p.field] = 2.0 ** WRAP_BITS[p.type] * 10.0**sf * \
                    abs(p.scale * p.factor)
        for slot in self._status:
            raw = self._raw(slot, blocks)
            if not is_sentinel(fam, slot.point.type, raw, slot.point.sentinel):
                enum = slot.point.enum or {}
                out.status = enum.get(int(raw), f"code_{raw}")  # type: ignore[arg-type]
        faults: list[int] = []
        for slot, bits in zip(self._faults, self._fault_bits, strict=True):
            raw = self._raw(slot, blocks)
            if is_sentinel(fam, slot.point.type, raw, slot.point.sentinel):
                continue
            value = int(raw)  # type: ignore[arg-type]
            codes = slot.point.codes or {}
            if not slot.point.type.startswith("bitfield"):
                # a fault-code register (Sungrow 5045) holds the active code itself; 0 is none
                if value:
                    faults.append(codes.get(value, value))
                continue
            faults += [code for b, code in bits if value >> b & 1]
        out.faults = tuple(faults) if self._faults else None
        return out

    def _ratio(self, slot: _Slot, blocks: Sequence[Sequence[int]]) -> float | None:
        """A ratio register's value; None (its points read INVALID) if it is no usable ratio."""
        p = slot.point
        raw = self._raw(slot, blocks)
        if is_sentinel(self.profile.sentinels, p.type, raw, p.sentinel):
            return None
        value = float(raw) * p.scale * p.factor  # type: ignore[arg-type]
        return value if math.isfinite(value) and value > 0 else None
