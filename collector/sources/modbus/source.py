"""The Modbus TCP source: every configured Modbus device, one poller each, endpoints shared.

Devices behind one gateway (or on one host:port) share one ``ModbusEndpoint``, which
serialises their requests; devices with the same profile share one decoder, built once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from collector.sources.base import Emit
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
        self._previous_handler: Any = None
        cs = config.collector
        self.endpoints: dict[tuple[str, int], ModbusEndpoint] = {}
        for _, gw in config.gateways():
            self.endpoints[(gw.host, gw.port)] = ModbusEndpoint(
                gw.host, gw.port, name=f"gateway {gw.id} ({gw.host}:{gw.port})",
                options=EndpointOptions(
                    timeout_s=gw.timeout_s or cs.timeout_s,
                    pause_after_connect_s=gw.pause_after_connect_s,
                    pause_between_requests_s=gw.pause_between_requests_s,
                    close_after_cycle=gw.close_after_cycle))
        for _, dev in config.devices("modbus-tcp"):
            key = (dev.host, dev.port)
            if key not in self.endpoints:
                self.endpoints[key] = ModbusEndpoint(dev.host, dev.port, cs.timeout_s)
        decoders: dict[str, DeviceDecoder] = {}  # one per profile, shared by its devices
        for plant, dev in config.devices("modbus-tcp"):
            profile = registry[dev.profile]
            if dev.profile not in decoders:
                decoders[dev.profile] = DeviceDecoder(profile, cs.max_hole)
            common = (plant, dev, clock, emit)
            options: dict[str, Any] = dict(
                max_backoff_s=cs.max_backoff_s, jitter_s=cs.jitter_s, on_poll=on_poll,
                night=night_mode(plant, dev, profile, cs), decoder=decoders[dev.profile],
                endpoint=self.endpoints[(dev.host, dev.port)])
            if profile.sunspec_discover:
                self.pollers.append(DiscoveringPoller(*common, max_hole=cs.max_hole, **options))
            else:
                self.pollers.append(ModbusPoller(*common, **options))

    async def start(self) -> None:
        # pymodbus parses answers in its protocol's data_received; what it cannot parse
        # reaches the loop's exception handler, which by default logs an 18-line traceback
        # per read. Ours hands it to the endpoint, which logs once per change.
        loop = asyncio.get_running_loop()
        self._previous_handler = loop.get_exception_handler()
        loop.set_exception_handler(self._loop_error)
        await super().start()
        log.info("polling %d Modbus devices on %d endpoints", len(self.pollers),
                 len(self.endpoints))

    def _loop_error(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        protocol = context.get("protocol")
        for endpoint in self.endpoints.values():
            if endpoint.owns(protocol):
                endpoint.protocol_error(context.get("exception") or context.get("message"))
                return
        if self._previous_handler is not None:
            self._previous_handler(loop, context)
        else:
            loop.default_exception_handler(context)

    async def _close(self) -> None:
        for e in self.endpoints.values():
            with contextlib.suppress(Exception):
                await asyncio.wait_for(e.close(), 5)
        loop = asyncio.get_running_loop()
        if loop.get_exception_handler() == self._loop_error:
            loop.set_exception_handler(self._previous_handler)


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
