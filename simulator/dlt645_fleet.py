"""The simulated DL/T 645 meters of a config: built, advanced with their plant, faulted, served.

``simulator.fleet.Fleet`` owns one of these: it passes each plant's inverter power on every
physics step, so a DL/T 645 meter meters the same energy a Modbus meter of that plant would.

Faults (``simulator.faults`` in the config) that name a DL/T 645 meter, on the simulated clock:
- ``no_answer``      the meter stays silent (the collector times out)
- ``slow_answer``    it answers ``delay_s`` real seconds late
- ``bad_checksum``   its answers carry a wrong checksum
- ``error_reply``    it answers every read with an error reply carrying error byte ``code``
- ``counter_reset``  ``field`` (e_export_kwh by default, or e_import_kwh) reads ``value`` kWh
                     (primary side) while the fault lasts; the true count goes on
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from zoneinfo import ZoneInfo

from config.dlt645_identifiers import load_catalog
from config.dlt645_schema import BITS_PER_BYTE
from config.schema import Config, FaultSpec
from simulator.dlt645_gateway import SimDlt645Gateway
from simulator.dlt645_meter import SimDlt645Meter


def _share(*parts: object) -> float:
    """A stable number in [0, 1) from the parts: the same meters on every run."""
    return int.from_bytes(hashlib.sha256(repr(parts).encode()).digest()[:8], "little") / 2**64


def _ns(when: float | datetime, start_ns: int) -> int:
    if isinstance(when, datetime):
        return int(when.timestamp() * 1e9)
    return start_ns + int(when * 1e9)


class Dlt645Fleet:
    def __init__(self, config: Config, start_ns: int) -> None:
        sim = config.simulator
        catalog = load_catalog()
        self.meters: dict[str, SimDlt645Meter] = {}
        self.by_plant: dict[str, list[SimDlt645Meter]] = {}
        self.gateways: list[SimDlt645Gateway] = []
        for plant in config.plants():
            for gw in plant.dlt645_gateways:
                on_bus = []
                for m in gw.meters:
                    cap = plant.capacity_kw_ac
                    meter = SimDlt645Meter(
                        id=m.id, plant=plant.id, address=m.address, export_is=m.export_is,
                        catalog=catalog, tz=ZoneInfo(plant.timezone), ct_ratio=m.ct_ratio,
                        pt_ratio=m.pt_ratio, loss=sim.meter_loss, standby_w=cap * 0.5,
                        # a meter that has counted for years; its import is the nights' draw
                        e_export_wh=1e6 * cap * (0.5 + _share(sim.seed, m.id, "e")),
                        e_import_wh=1e3 * cap, now_ns=start_ns,
                        reply_preamble=(0, 2, 4)[int(3 * _share(sim.seed, m.id, "fe"))],
                    )
                    on_bus.append(meter)
                    self.meters[m.id] = meter
                    self.by_plant.setdefault(plant.id, []).append(meter)
                self.gateways.append(SimDlt645Gateway(gw.host, gw.port, on_bus, gw.baud,
                                                      BITS_PER_BYTE[gw.framing]))
        self.windows: list[tuple[FaultSpec, int, int | None]] = [
            (s, _ns(s.from_, start_ns), None if s.until is None else _ns(s.until, start_ns))
            for s in sim.faults if s.device in self.meters]

    def advance(self, plant: str, dt_s: float, inverters_ac_w: float, t_ns: int) -> None:
        for m in self.by_plant.get(plant, ()):
            m.advance(dt_s, inverters_ac_w, t_ns)

    def apply_faults(self, t_ns: int) -> None:
        """Set every faulted meter's switches for simulated instant ``t_ns``, from scratch."""
        touched = {s.device for s, _, _ in self.windows}
        for name in touched:
            m = self.meters[name]
            m.silent, m.delay_s, m.bad_checksum, m.error_code, m.overrides = (
                False, 0.0, False, None, {})
        for s, lo, hi in self.windows:
            if not (lo <= t_ns and (hi is None or t_ns < hi)):
                continue
            m = self.meters[s.device]
            if s.kind == "no_answer":
                m.silent = True
            elif s.kind == "slow_answer":
                m.delay_s = s.delay_s
            elif s.kind == "bad_checksum":
                m.bad_checksum = True
            elif s.kind == "error_reply":
                m.error_code = s.code
            elif s.kind == "counter_reset":
                m.overrides[s.field or "e_export_kwh"] = s.value

    async def start(self) -> None:
        for g in self.gateways:
            await g.start()

    async def stop(self) -> None:
        for g in self.gateways:
            await g.stop()

    def ground_truth(self) -> dict[str, dict[str, float]]:
        """Each meter's true primary-side counters (kWh) and power as of the last step."""
        return {i: {"e_export_kwh": m.e_export_wh / 1e3, "e_import_kwh": m.e_import_wh / 1e3,
                    "p_w": m.p_w} for i, m in self.meters.items()}
