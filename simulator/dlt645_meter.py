"""A simulated DL/T 645-2007 settlement meter: the plant's metered energy, served by data id.

Its energy comes from the same physics as the Modbus meters (``SimMeter``): the plant's
inverters' AC power less the line loss, less the plant's standby draw at night, integrated
with the trapezoid rule. What it shows is what a real meter at the grid connection shows:
- forward and reverse energy from the meter's point of view: with ``export_is: reverse`` the
  plant's export counts as reverse energy and its night draw as forward energy;
- secondary-side values when it sits behind instrument transformers (energy and power divided
  by ct_ratio × pt_ratio, currents by ct_ratio, voltages by pt_ratio);
- each energy split over four tariffs by the local time of day (``TARIFF_OF_HOUR``), the total
  always their sum;
- counters that roll over at 999999.99 kWh, as a 4-byte XXXXXX.XX register does.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from config.dlt645_identifiers import Catalog, Identifier
from simulator.dlt645_wire import Request, address_raw, encode_value, meter_frame

GRID_V = 230.0
PT_SECONDARY_V = 57.7  # a 100 V (line) voltage transformer secondary, per phase
GRID_HZ = 50.0
# An example time-of-use table, hour of local time -> tariff (1 sharp, 2 peak, 3 flat,
# 4 valley); real ones differ by province and season, and only the split depends on it
TARIFF_OF_HOUR = (4,) * 8 + (2,) * 3 + (3,) * 7 + (2, 1, 1, 2, 3, 3)
EXPORT_SHARES = (0.05, 0.30, 0.60, 0.05)  # how a meter's past export is split at start
IMPORT_SHARES = (0.10, 0.20, 0.30, 0.40)
# control codes (function in bits 4-0; bit 7 a reply, bit 6 an error, bit 5 more to follow)
READ, FOLLOWUP, READ_ADDRESS = 0x11, 0x12, 0x13
REPLY, ERROR, MORE = 0x80, 0x40, 0x20
NO_DATA, OTHER, UNAUTHORISED = 0x02, 0x01, 0x04


@dataclass
class SimDlt645Meter:
    id: str
    plant: str
    address: str
    export_is: str  # "reverse" | "forward"
    catalog: Catalog
    tz: ZoneInfo
    ct_ratio: float = 1.0
    pt_ratio: float = 1.0
    loss: float = 0.015
    standby_w: float = 0.0
    e_export_wh: float = 0.0  # ground truth, primary side
    e_import_wh: float = 0.0
    reply_preamble: int = 2  # FE bytes before an answer (meters send 0 to 4)
    max_reply_data: int = 200  # a longer answer goes out in follow-up frames
    reads_blocks: bool = True  # some meters answer "no requested data" to every block
    lacks: set[int] = field(default_factory=set)  # identifiers this meter model does not carry
    p_w: float = 0.0  # export positive, primary side
    now_ns: int = 0
    tariff_export_wh: list[float] = field(default_factory=list)
    tariff_import_wh: list[float] = field(default_factory=list)
    # fault switches (simulator.dlt645_fleet sets them on every physics tick)
    silent: bool = False
    delay_s: float = 0.0
    bad_checksum: bool = False
    error_code: int | None = None
    overrides: dict[str, float] = field(default_factory=dict)  # field -> primary kWh shown
    controls: Counter[int] = field(default_factory=Counter)  # control codes received
    _pending: tuple[int, bytes, int] | None = None  # DI, bytes still to send, next sequence

    def __post_init__(self) -> None:
        self.raw_address = address_raw(self.address)
        if not self.tariff_export_wh:
            self.tariff_export_wh = [self.e_export_wh * s for s in EXPORT_SHARES]
        if not self.tariff_import_wh:
            self.tariff_import_wh = [self.e_import_wh * s for s in IMPORT_SHARES]

    # -- physics -------------------------------------------------------------------------------
    def advance(self, dt_s: float, inverters_ac_w: float, t_ns: int) -> None:
        """Integrate the plant's flow at the connection point over dt (trapezoid)."""
        p = inverters_ac_w * (1.0 - self.loss) - self.standby_w
        d_exp = (max(self.p_w, 0.0) + max(p, 0.0)) / 2.0 * dt_s / 3600.0
        d_imp = (max(-self.p_w, 0.0) + max(-p, 0.0)) / 2.0 * dt_s / 3600.0
        mid_ns = t_ns - int(dt_s * 5e8)  # the energy of the step goes to its middle's tariff
        t = TARIFF_OF_HOUR[self.local_time(mid_ns).hour] - 1
        self.e_export_wh += d_exp
        self.e_import_wh += d_imp
        self.tariff_export_wh[t] += d_exp
        self.tariff_import_wh[t] += d_imp
        self.p_w = p
        self.now_ns = t_ns

    def local_time(self, t_ns: int | None = None) -> datetime:
        ns = self.now_ns if t_ns is None else t_ns
        return datetime.fromtimestamp(ns / 1e9, UTC).astimezone(self.tz)

    # -- what the meter shows ------------------------------------------------------------------
    def _energies(self) -> dict[str, tuple[float, list[float]]]:
        """Forward and reverse energy (primary Wh): total and per tariff, the meter's view."""
        exp = (self.overrides.get("e_export_kwh", self.e_export_wh / 1e3) * 1e3,
               self.tariff_export_wh)
        imp = (self.overrides.get("e_import_kwh", self.e_import_wh / 1e3) * 1e3,
               self.tariff_import_wh)
        return {"reverse": exp, "forward": imp} if self.export_is == "reverse" else {
            "forward": exp, "reverse": imp}

    def shown(self) -> dict[str, float | str | datetime]:
        """Every canonical field the meter can answer, in the field's unit, secondary side."""
        ratio = self.ct_ratio * self.pt_ratio
        out: dict[str, float | str | datetime] = {}
        energy = self._energies()
        for side in ("forward", "reverse"):
            total, tariffs = energy[side]
            out[f"e_{side}_kwh"] = total / 1e3 / ratio
            for n, wh in enumerate(tariffs, start=1):
                out[f"e_{side}_t{n}_kwh"] = wh / 1e3 / ratio
        for n in range(5):
            key = "" if n == 0 else f"_t{n}"
            out[f"e_combined{key}_kwh"] = (out[f"e_forward{key}_kwh"]  # type: ignore[operator]
                                           + out[f"e_reverse{key}_kwh"])
        # the meter's power is positive in its forward direction
        p = (-self.p_w if self.export_is == "reverse" else self.p_w) / ratio
        v = PT_SECONDARY_V if self.pt_ratio > 1 else GRID_V
        pf = 0.99 if abs(self.p_w) > 1000 else 0.95
        sign = -1.0 if p < 0 else 1.0
        out.update(p_w=p, pf=sign * pf, f_hz=GRID_HZ, i_n_a=0.0, t_meter_c=25.0)
        for n in (1, 2, 3):
            out[f"p_l{n}_w"] = p / 3
            out[f"v_l{n}_v"] = v + (n - 2) * 0.3
            out[f"i_l{n}_a"] = p / 3 / v / pf
            out[f"pf_l{n}"] = sign * pf
        return out

    def value_bytes(self, ident: Identifier) -> bytes | None:
        """The bytes the meter holds for ``ident``, or None if it has no such data."""
        if ident.is_block:
            parts = [self.value_bytes(self.catalog.identifiers[m]) for m in ident.members]
            return None if None in parts else b"".join(p for p in parts if p is not None)
        if ident.field is not None:
            value = self.shown().get(ident.field)
            return None if value is None else encode_value(ident, value)
        extra: dict[int, float | str | datetime] = {
            0x04000101: self.local_time(), 0x04000102: self.local_time(),
            0x04000306: round(self.ct_ratio), 0x04000307: round(self.pt_ratio),
            0x04000401: self.address, 0x04000402: self.address,
        }
        value = extra.get(ident.di)
        return None if value is None else encode_value(ident, value)

    # -- the protocol --------------------------------------------------------------------------
    def addressed_by(self, raw: bytes) -> bool:
        """Whether a request to ``raw`` reaches this meter (AAH bytes match any byte)."""
        if raw == b"\x99" * 6:
            return False  # broadcast: meters act on it (time sync) but never answer
        return all(r in (0xAA, own) for r, own in zip(raw, self.raw_address, strict=True))

    def answer(self, req: Request) -> bytes | None:
        """The meter's reply to a request addressed to it, or None (silence)."""
        self.controls[req.control] += 1
        if self.silent:
            return None
        function = req.control & 0x1F
        if req.control & REPLY:
            return None  # another meter's answer, not a request
        if function == READ_ADDRESS:
            return self._frame(READ_ADDRESS | REPLY, self.raw_address)
        if function not in (READ, FOLLOWUP):
            return self._error(function, UNAUTHORISED)  # writes need a password we refuse
        if self.error_code is not None:
            return self._error(function, self.error_code)
        if len(req.data) < (4 if function == READ else 5):
            return self._error(function, OTHER)
        di = int.from_bytes(req.data[:4], "little")
        if function == FOLLOWUP:
            return self._followup(di, req.data[4])
        ident = self.catalog.get(di)
        if ident is not None and (di in self.lacks or (ident.is_block and not self.reads_blocks)):
            ident = None
        value = None if ident is None else self.value_bytes(ident)
        if value is None:
            return self._error(function, NO_DATA)
        room = self.max_reply_data - 4  # the DI takes 4 bytes of every frame
        first, rest = value[:room], value[room:]
        self._pending = (di, rest, 1) if rest else None
        return self._frame(READ | REPLY | (MORE if rest else 0), req.data[:4] + first)

    def _followup(self, di: int, seq: int) -> bytes:
        if self._pending is None or self._pending[0] != di or self._pending[2] != seq:
            return self._error(FOLLOWUP, NO_DATA)
        room = self.max_reply_data - 5  # a follow-up also carries its sequence number
        left = self._pending[1]
        chunk, rest = left[:room], left[room:]
        self._pending = (di, rest, seq + 1) if rest else None
        return self._frame(FOLLOWUP | REPLY | (MORE if rest else 0),
                           di.to_bytes(4, "little") + chunk + bytes([seq]))

    def _error(self, function: int, code: int) -> bytes:
        return self._frame(function | REPLY | ERROR, bytes([code]))

    def _frame(self, control: int, data: bytes) -> bytes:
        raw = bytearray(meter_frame(self.raw_address, control, data, self.reply_preamble))
        if self.bad_checksum:
            raw[-2] = (raw[-2] + 1) % 256
        return bytes(raw)
