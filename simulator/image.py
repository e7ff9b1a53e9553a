"""A device's register image, written from canonical fields through its profile.

The simulator never knows register addresses: it sets ``p_ac_w`` or ``e_total_kwh`` and the
profile says where and how that is encoded. Points nobody sets hold the family's "not
implemented" sentinel, as a real device's unused registers do. Registers a profile does not
list but that sit in a short gap between listed ones read as 0 (devices answer reads through
reserved registers); anything else, and any ``unreadable`` range, is an illegal address.

Values are clamped into the range a type can show, and a value whose word would be the point's
"not implemented" pattern is moved one count towards zero (or up from 0), so no real value is
ever served as a sentinel. Only a value too big for its register (or too negative for a signed
one) coarsens the scale factor; one below an unsigned type's lowest raw value is clamped up to
it. That matters for ``acc32``: to SunSpec an accumulator of 0 means "not implemented", so a
true 0 (a counter reset to zero) is served as 1, the smallest count a real device could show.

Encoding is the simulator's own (``simulator.encode``, struct-based); the sentinel patterns are
the shared data table (``config.sentinels``). Nothing here comes from the collector.
"""

from __future__ import annotations

import itertools
import math
import struct

from config.profiles import Point, Profile
from config.sentinels import sentinel_table
from simulator.encode import (
    FORMATS,
    PointPacker,
    encode_pattern,
    encode_text,
    encode_value,
    not_implemented_words,
)

HOLE_FILL = 125  # reserved gaps up to this many registers read as 0, as on real devices

_BITS = {"H": 16, "h": 16, "I": 32, "i": 32, "Q": 64, "q": 64}
# what each integer type can hold at all (struct's own limits)
RANGES = {t: ((0, (1 << _BITS[f]) - 1) if f.isupper()
              else (-(1 << (_BITS[f] - 1)), (1 << (_BITS[f] - 1)) - 1))
          for t, f in FORMATS.items() if f in _BITS}


class RegisterImage:
    def __init__(self, profile: Profile) -> None:
        self.profile = profile
        self._tables: dict[str, dict[int, int]] = {"holding": {}, "input": {}}
        # every point that shows a quantity: its canonical field, or its sim_field (a value
        # the collector does not poll: reactive power, start-up time ...); a quantity may show
        # in several registers (Sungrow's total yield in kWh and in 0.1 kWh)
        self._targets: dict[str, list[Point]] = {}
        for p in profile.points:
            for name in {p.field, p.sim_field} - {None}:
                self._targets.setdefault(str(name), []).append(p)
        self._by_field: dict[str, Point] = {}
        for p in profile.points:
            if p.field:
                self._by_field.setdefault(p.field, p)
        self._status = [p for p in profile.points
                        if p.enum and (p.role == "status" or p.sim_field == "status")]
        # CT/PT ratios (scaled values) that the registers of a meter's secondary side divide by
        self._ratio: dict[str, float] = {}
        self._ratio_members: dict[str, list[Point]] = {}
        self._faults = [p for p in profile.points if p.role == "faults"]
        self._sf: dict[str, int] = {}
        self._values: dict[str, float] = {}  # last scaled value per point, for sf changes
        self._sf_members: dict[str, list[Point]] = {}
        # per point, built once (the physics loop encodes every point every tick): its packer,
        # the range its type holds, its "not implemented" patterns and its unit divisor
        self._packer: dict[str, PointPacker] = {}
        self._range: dict[str, tuple[float, float]] = {}
        self._patterns: dict[str, frozenset[int]] = {}
        for p in profile.points:
            if p.type in FORMATS:
                self._packer[p.name] = PointPacker(p.type, p.size, p.word_order)
                self._range[p.name] = RANGES.get(p.type, (-math.inf, math.inf))
                self._patterns[p.name] = frozenset(
                    () if p.sentinel == "none" else (p.sentinel,)
                    if isinstance(p.sentinel, int)
                    else sentinel_table().patterns(profile.sentinels, p.type))
        for p in profile.points:
            self._write(p, not_implemented_words(p, profile.sentinels))
            if p.sf:
                self._sf_members.setdefault(p.sf, []).append(p)
            for r in p.ratio:
                self._ratio_members.setdefault(r, []).append(p)
        for p in profile.points:
            if isinstance(p.sim, str):
                self._write(p, encode_text(p.sim, p.size))
                continue
            if p.sim is not None and p.type == "sunssf":
                self._sf[p.name] = int(p.sim)
            if p.sim is not None:
                self._write(p, self._constant(p, p.sim))
            if p.name in self._ratio_members and p.sim is not None:
                self._ratio[p.name] = float(p.sim) * p.scale * p.factor
        self._fill_holes()

    def _fill_holes(self) -> None:
        """Zero the short reserved gaps between listed registers, except unreadable ones."""
        for table, regs in self._tables.items():
            mapped = sorted(regs)
            for a, b in itertools.pairwise(mapped):
                if 1 < b - a <= HOLE_FILL:
                    for addr in range(a + 1, b):
                        regs[addr] = 0
            for u in self.profile.unreadable:
                if u.table == table:
                    for addr in range(u.start, u.end):
                        regs.pop(addr, None)

    # -- register access (the Modbus server side) -------------------------------------------
    def read(self, table: str, address: int, count: int) -> list[int] | None:
        """The words at address..address+count, or None if any is not mapped."""
        if table == "input" and self.profile.input_mirrors_holding:
            table = "holding"  # the device answers function 04 from the same registers
        regs = self._tables[table]
        try:
            return [regs[a] for a in range(address, address + count)]
        except KeyError:
            return None

    def _write(self, p: Point, words: list[int]) -> None:
        regs = self._tables[p.table]
        for i, w in enumerate(words):
            regs[p.address + i] = w

    # -- canonical writes (the simulator side) -----------------------------------------------
    def has_field(self, name: str) -> bool:
        """Whether a canonical field (one the collector polls) shows in this profile."""
        return name in self._by_field

    def shows(self, name: str) -> bool:
        """Whether any register shows ``name`` (a canonical field or a sim_field)."""
        return name in self._targets

    def set_field(self, name: str, value: float | None) -> None:
        for p in self._targets.get(name, ()):  # none: this profile does not carry it
            self._set_point(p, value)

    def set_ratio(self, name: str, value: float) -> None:
        """Set a CT/PT ratio register (a scaled value); the points it divides follow."""
        p = self.profile.by_name[name]
        self._write(p, self._constant(p, round(value / (p.scale * p.factor))))
        self._ratio[name] = value
        for member in self._ratio_members.get(name, []):
            if member.name in self._values:
                self._encode(member, self._values[member.name])

    def _set_point(self, p: Point, value: float | None) -> None:
        if value is None:
            self._write(p, not_implemented_words(p, self.profile.sentinels))
            self._values.pop(p.name, None)
            return
        self._values[p.name] = value
        if p.sf and p.sf in self._sf and not self._fits(p, value, self._sf[p.sf]):
            self._raise_sf(p.sf, value, p)
            return
        self._encode(p, value)

    def set_text(self, name: str, text: str) -> None:
        """Write identity text, unless the profile gives the device's own (``sim:``)."""
        p = self._by_field.get(name)
        if p is not None and p.type == "string" and p.sim is None:
            self._write(p, encode_text(text, p.size))

    def set_status(self, state: str) -> None:
        """Show ``state`` in every status register, each in its own codes (first match)."""
        for p in self._status:
            assert p.enum is not None
            code = next((k for k, v in p.enum.items() if v == state), None)
            if code is not None:
                self._write(p, encode_value(p.type, code, p.word_order))

    def set_faults(self, codes: tuple[int, ...]) -> None:
        for p in self._faults:
            if not p.type.startswith("bitfield"):  # a code register shows one code at a time
                inverse = {c: v for v, c in (p.codes or {}).items()}
                code = inverse.get(codes[0], codes[0]) if codes else 0
                self._write(p, encode_value(p.type, code, p.word_order))
                continue
            inverse = {c: b for b, c in (p.codes or {}).items()}
            bits = 0
            for c in codes:
                b = inverse.get(c, c if not p.codes else None)
                if b is not None and b < p.size * 16:
                    bits |= 1 << b
            self._write(p, encode_pattern(bits, p.size, p.word_order))

    def set_raw(self, point: str, raw: int) -> None:
        """Write a raw register value (fault injection: garbage, resets, stuck values)."""
        p = self.profile.by_name[point]
        self._write(p, encode_pattern(raw & ((1 << 16 * p.size) - 1), p.size, p.word_order))

    def point_for_field(self, name: str) -> Point | None:
        return self._by_field.get(name)

    # -- encoding ----------------------------------------------------------------------------
    def _raw(self, p: Point, value: float, sf: int) -> float:
        return value / (p.factor * p.scale * 10.0**sf)

    def _fits(self, p: Point, value: float, sf: int) -> bool:
        """Whether ``value`` shows at scale ``sf`` without overflowing its register.

        Below an unsigned type's lowest raw value is no overflow (a larger sf cannot help; an
        acc32 of 0 would otherwise push the sf to its limit): ``_encode`` clamps it instead.
        """
        lo, hi = RANGES.get(p.type, (-math.inf, math.inf))
        raw = round(self._raw(p, value, sf))
        return raw <= hi and (lo >= 0 or raw >= lo)

    def _encode(self, p: Point, value: float) -> None:
        for r in p.ratio:  # a meter behind transformers shows the secondary side
            value /= self._ratio.get(r, 1.0)
        packer = self._packer[p.name]
        if p.type == "float32":
            self._write(p, packer.words(value / (p.factor * p.scale)))
            return
        sf = self._sf.get(p.sf, 0) if p.sf else 0
        raw = round(self._raw(p, value, sf))
        lo, hi = self._range[p.name]
        # clamp into the valid range, so no value is ever served as a sentinel (acc32 0 -> 1)
        raw = int(min(max(raw, lo), hi))
        if raw & ((1 << 16 * p.size) - 1) in self._patterns[p.name]:
            raw = raw - 1 if raw > 0 else raw + 1  # its neighbour towards zero
        self._write(p, packer.words(raw))

    def _constant(self, p: Point, value: float) -> list[int]:
        """A profile's ``sim:`` constant; one its type cannot hold is a profile error."""
        try:
            return encode_value(p.type, value, p.word_order)
        except struct.error as e:
            raise ValueError(f"{self.profile.source}: point {p.name}: sim: {value!r} does not "
                             f"fit a {p.type} ({e})") from None

    def _raise_sf(self, sf_name: str, value: float, p: Point) -> None:
        """Coarsen a scale factor until the value fits; a device with a bigger rating would."""
        sf = self._sf[sf_name]
        while not self._fits(p, value, sf) and sf < 10:
            sf += 1
        self._sf[sf_name] = sf
        self._write(self.profile.by_name[sf_name], encode_value("sunssf", sf))
        for member in self._sf_members.get(sf_name, []):
            if member.name in self._values:
                self._encode(member, self._values[member.name])
