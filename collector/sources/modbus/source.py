"""The Modbus TCP source: every configured Modbus device, one poller each, endpoints shared.

Devices behind one gateway (or on one host:port) share one ``ModbusEndpoint``, which
serialises their requests; devices with the same profile share one decoder, built once. With
``collector.shard`` the config holds only this process's shard (``shard.py``); the
pollers behind an RS485 gateway are planned against its bus (``bus_plan.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from collector.sources.base import Emit
from collector.sources.modbus.bus_plan import BusPlan, plan_bus
from collector.sources.modbus.decode import DeviceDecoder
from collector.sources.modbus.endpoint import EndpointOptions, ModbusEndpoint
from collector.sources.modbus.poller import DiscoveringPoller, ModbusPoller
from collector.sources.polling import NightMode, PolledSource, PollHook
from config.profiles import Profile, ProfileRegistry
from config.schema import CollectorSettings, Config, Device, Plant
from timebase.clock import Clock

log = logging.getLogger(__name__)


class ModbusSource(PolledSource):
    name = "modbus"

    def __init__(self, config: Config, registry: ProfileRegistry, clock: Clock, emit: Emit,
                 on_poll: PollHook | None = None) -> None:
        super().__init__()
        cs = config.collector
        self.endpoints: dict[tuple[str, int], ModbusEndpoint] = {}
        self.bus_plans: list[BusPlan] = []
        gateways = {(gw.host, gw.port): gw for _, gw in config.gateways()}
        devices = config.devices("modbus-tcp")  # this shard's, when sharded (shard_config)
        for _, dev in devices:
            key = (dev.host, dev.port)
            if key in self.endpoints:
                continue
            gw = gateways.get(key)
            self.endpoints[key] = ModbusEndpoint(dev.host, dev.port, cs.timeout_s) \
                if gw is None else ModbusEndpoint(
                    gw.host, gw.port, name=f"gateway {gw.id} ({gw.host}:{gw.port})",
                    options=EndpointOptions(
                        timeout_s=gw.timeout_s or cs.timeout_s,
                        pause_after_connect_s=gw.pause_after_connect_s,
                        pause_between_requests_s=gw.pause_between_requests_s,
                        close_after_cycle=gw.close_after_cycle))
        decoders: dict[str, DeviceDecoder] = {}  # one per profile, shared by its devices
        on_bus: dict[str, list[ModbusPoller]] = {}  # RS485 gateway id -> its pollers
        for plant, dev in devices:
            profile = registry[dev.profile]
            if dev.profile not in decoders:
                decoders[dev.profile] = DeviceDecoder(profile, cs.max_hole)
            common = (plant, dev, clock, emit)
            options: dict[str, Any] = dict(
                max_backoff_s=cs.max_backoff_s, jitter_s=cs.jitter_s, on_poll=on_poll,
                night=night_mode(plant, dev, profile, cs), decoder=decoders[dev.profile],
                endpoint=self.endpoints[(dev.host, dev.port)])
            poller = DiscoveringPoller(*common, max_hole=cs.max_hole, **options) \
                if profile.sunspec_discover else ModbusPoller(*common, **options)
            self.pollers.append(poller)
            gw = gateways.get((dev.host, dev.port))
            if gw is not None and gw.serial is not None:
                on_bus.setdefault(gw.id, []).append(poller)
        by_id = {gw.id: gw for gw in gateways.values()}
        self.bus_plans = [plan_bus(by_id[g], ps, clock) for g, ps in on_bus.items()]

    async def start(self) -> None:
        await super().start()
        log.info("polling %d Modbus devices on %d endpoints", len(self.pollers),
                 len(self.endpoints))

    async def _close(self) -> None:
        for e in self.endpoints.values():
            with contextlib.suppress(Exception):
                await asyncio.wait_for(e.close(), 5)


def modbus_source(collector: Any) -> ModbusSource:
    """The Modbus source of a running collector (for tools and tests)."""
    return next(s for s in collector.sources if isinstance(s, ModbusSource))


def night_mode(plant: Plant, device: Device, profile: Profile,
               cs: CollectorSettings) -> NightMode | None:
    """Inverters sleep at night; a meter is powered from the grid and never does."""
    if profile.kind != "inverter" or not device.night_mode:
        return None
    return NightMode(plant.latitude, plant.longitude, cs.night_elevation_deg,
                     cs.night_poll_factor)
