"""Polls behind an RS485 gateway, planned against the bus's time rather than the CPU's.

On a serial bus the wire is the limit: at 9600 baud 8N1 one SUN2000 poll (two reads, 108
registers) takes about 0.29 s, so 30 inverters every 10 s ask for 86 % of the bus, and 40 for
115 %. From
the gateway's ``serial`` settings and each device's reads (``config.serial_bus``) the plan
knows what each poll costs on the wire, and:

- spreads the devices' slots along the interval, back to back in bus time, instead of the
  jitter offsets: polls do not queue behind each other at one instant;
- says what share of the bus the configured intervals ask for (``demand``), and warns when it
  is more than the bus can carry;
- then stretches every interval of that bus by the same factor, to a schedule the bus carries
  at ``OVERLOADED_UTILISATION``: each device is polled as often as the others (no starving),
  and the bus is kept busy. The small headroom absorbs what the model does not know (the
  collector's own gaps between requests); without it, lateness would build up round by round.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from collector.sources.modbus.endpoint import ModbusEndpoint
from collector.sources.modbus.poller import ModbusPoller
from config.schema import Gateway
from timebase.clock import Clock

log = logging.getLogger(__name__)

OVERLOADED_UTILISATION = 0.95  # the share of the bus an overloaded schedule is planned for


@dataclass(frozen=True, slots=True)
class BusPlan:
    gateway: str
    endpoint: ModbusEndpoint  # its busy_s: the bus time the polls really took
    devices: int
    demand: float  # share of the bus the configured intervals ask for (> 1: cannot fit)
    stretch: float  # factor applied to every interval on this bus (1: as configured)

    @property
    def planned_utilisation(self) -> float:
        return self.demand / self.stretch


def poll_bus_s(gateway: Gateway, poller: ModbusPoller) -> float:
    """Seconds one poll of ``poller``'s device takes on ``gateway``'s bus."""
    assert gateway.serial is not None
    return sum(gateway.serial.read_s(r.count) for r in poller.decoder.reads)


def plan_bus(gateway: Gateway, pollers: Sequence[ModbusPoller], clock: Clock) -> BusPlan:
    """Set the slots (and, when overloaded, the intervals) of the pollers on one bus."""
    costs = [poll_bus_s(gateway, p) for p in pollers]
    demand = sum(c / clock.real_seconds(p.interval_s) for c, p in zip(costs, pollers,
                                                                      strict=True))
    stretch = max(1.0, demand / OVERLOADED_UTILISATION) if demand > 1.0 else 1.0
    offset_real = 0.0  # back to back along the interval, in bus time
    for cost, p in zip(costs, pollers, strict=True):
        p.interval_s *= stretch
        interval_ns = int(p.interval_s * 1e9)
        p.offset_ns = int(offset_real * clock.speed * 1e9) % interval_ns
        offset_real += cost
    plan = BusPlan(gateway.id, pollers[0].endpoint, len(pollers), demand, stretch)
    if stretch > 1.0:
        bus = gateway.serial
        assert bus is not None
        log.warning(
            "gateway %s: %d devices ask for %.0f%% of its RS485 bus (%d baud %s): the "
            "configured intervals cannot fit; every device on it is polled %.2fx less often "
            "(one round of polls takes %.1f s on the wire)", gateway.id, len(pollers),
            demand * 100, bus.baud, bus.framing, stretch, sum(costs))
    else:
        log.info("gateway %s: %d devices use %.0f%% of its RS485 bus", gateway.id,
                 len(pollers), demand * 100)
    return plan
