"""Fault injection: the faults listed under ``simulator.faults``, applied on the simulated clock.

Each physics tick recomputes which faults are active and sets the devices' switches from
scratch, so a fault ends cleanly when its window closes. Kinds:

- ``no_answer``     the unit id stays silent (the collector times out)
- ``slow_answer``   every answer comes ``delay_s`` real seconds late
- ``exception``     answers with Modbus exception ``code`` (to every ``every``-th request)
- ``fault_code``    the inverter reports status fault and vendor code ``code``
- ``counter_reset`` a counter (``field``, default the first lifetime counter) reads ``value``
                    (default 0; an acc32 serves 0 as 1, as SunSpec reads 0 as not implemented)
- ``string_loss``   PV string ``string`` loses ``loss`` (default 30%) of its output
- ``stuck_value``   ``field`` stops updating: it keeps the value it had when the fault began
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime

from config.schema import FaultSpec
from simulator.devices import SimDevice, SimInverter
from simulator.modbus_server import UnitBehaviour

log = logging.getLogger(__name__)


def _instant_ns(when: float | datetime, start_ns: int) -> int:
    if isinstance(when, datetime):
        return int(when.timestamp() * 1e9)
    return start_ns + int(when * 1e9)


def first_counter(dev: SimDevice, kind: str = "lifetime") -> str | None:
    return next((p.field for p in dev.profile.points
                 if p.counter == kind and p.field and p.role == "value"), None)


class FaultInjector:
    def __init__(self, specs: list[FaultSpec], devices: Mapping[str, SimDevice],
                 behaviour: Mapping[str, UnitBehaviour], start_ns: int) -> None:
        self.devices = devices
        self.behaviour = behaviour
        self.windows = [(s, _instant_ns(s.from_, start_ns),
                         None if s.until is None else _instant_ns(s.until, start_ns))
                        for s in specs]
        self.touched = sorted({s.device for s in specs})
        self.silenced: set[str] = set()  # no_answer now; the fleet also silences sleepers
        self.active: list[FaultSpec] = []

    def apply(self, t_ns: int) -> None:
        """Set every faulted device's switches for simulated instant ``t_ns``."""
        active = [s for s, lo, hi in self.windows if lo <= t_ns and (hi is None or t_ns < hi)]
        if active != self.active:
            log.info("faults active: %s", ", ".join(f"{s.device}:{s.kind}" for s in active)
                     or "none")
        self.active = active
        stuck_now: dict[str, set[str]] = {d: set() for d in self.touched}
        self.silenced = set()
        for dev_id in self.touched:
            dev, b = self.devices[dev_id], self.behaviour[dev_id]
            dev.faults, dev.overrides = (), {}
            b.delay_s, b.exception, b.every = 0.0, None, 1
            if isinstance(dev, SimInverter):
                dev.string_loss = {}
        for s in active:
            dev, b = self.devices[s.device], self.behaviour[s.device]
            if s.kind == "no_answer":
                self.silenced.add(s.device)
            elif s.kind == "slow_answer":
                b.delay_s = s.delay_s
            elif s.kind == "exception":
                b.exception, b.every = s.code, s.every
            elif s.kind == "fault_code":
                assert s.code is not None
                dev.faults = (*dev.faults, s.code)
            elif s.kind == "counter_reset":
                name = s.field or first_counter(dev)
                if name is not None:
                    dev.overrides[name] = s.value
            elif s.kind == "string_loss" and isinstance(dev, SimInverter):
                dev.string_loss[s.string] = s.loss
            elif s.kind == "stuck_value":
                assert s.field is not None
                stuck_now[s.device].add(s.field)
                dev.stuck.setdefault(s.field, None)  # captured at the next write
        for dev_id, fields in stuck_now.items():
            dev = self.devices[dev_id]
            for name in [n for n in dev.stuck if n not in fields]:
                del dev.stuck[name]
