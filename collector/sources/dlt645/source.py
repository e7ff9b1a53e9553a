"""The DL/T 645 source: every configured meter, one poller each, one link per gateway.

Scheduling, backoff, the low priority of a failing meter on a shared bus (``walk.py``) and the
bounded stop are the generic ones of ``collector.sources``, as for Modbus. A meter is powered from
the grid and never sleeps, so night mode does not apply: a silent meter at night is a fault.

A poll reads the meter's identifiers one transaction after another on the bus. A block the
meter refuses ("no requested data": some meters answer no block reads) is replaced by its
members, for this poll and every later one. Any other identifier the meter refuses is left
out of the reading (logged once); a poll fails only when nothing could be read, or when the
bus itself fails (no answer, a garbled answer twice, a lost connection), and then the meter
backs off like any failing device.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import time
from typing import Any

from collector.errors import SourceError
from collector.reading import Reading
from collector.sources.base import Emit
from collector.sources.dlt645.codec import Decoder, Value, decoders
from collector.sources.dlt645.errors import Dlt645Error, ErrorReply
from collector.sources.dlt645.link import Bus, Dlt645Link, LinkOptions
from collector.sources.dlt645.mapping import DATE_DI, TIME_DI, MeterMapping
from collector.sources.polling import DevicePoller, PolledSource, PollHook
from config.dlt645_identifiers import Catalog, load_catalog
from config.dlt645_schema import Dlt645Meter
from config.schema import Config
from timebase.clock import Clock

log = logging.getLogger(__name__)
NO_DATA = 0x02  # the error byte's "no requested data" bit


class Dlt645Poller(DevicePoller):
    def __init__(self, *args: Any, meter: Dlt645Meter, link: Dlt645Link,
                 decoders: dict[int, Decoder], mapping: MeterMapping, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.meter, self.link, self.mapping = meter, link, mapping
        self.connection = link  # the meters on its bus are walked by one task
        self._decoders = decoders
        self.plan: list[Decoder] = [decoders[di] for di in meter.poll_identifiers()]
        self.refused: dict[int, str] = {}  # identifiers the meter answered with an error

    async def read(self, due_wall: float | None = None) -> Reading:
        values: list[Value] = []
        started: dict[int, int] = {}  # when each identifier's read began (collector clock)
        try:
            async with self.link.cycle(self.meter.id) as bus:
                self.note_late(due_wall)
                for decoder in list(self.plan):
                    started[decoder.ident.di] = self.clock.now_ns()
                    values += await self._read_one(bus, decoder)
                values += await self._date_again(bus, values, started)
        except Dlt645Error as e:
            raise SourceError(self.meter.id, f"meter {self.meter.address}: {e}") from e
        if not values:
            first = next(iter(self.refused.values()), "nothing read")
            raise SourceError(self.meter.id, f"meter {self.meter.address} answered every "
                                             f"read with an error ({first})")
        return self.mapping.reading(values, self.clock.now_ns(), self.plant.id, self.meter.id,
                                    self.plant.village)

    async def _date_again(self, bus: Bus, values: list[Value], started: dict[int, int]
                          ) -> list[Value]:
        """The date once more if its read and the time's straddled the meter's midnight.

        Date and time are two reads: a date read at 23:59:59 with a time read at 00:00:01
        would put the meter's clock a day behind. When the time read shows less time since
        midnight than has passed since the date read began, the date is read again (the
        mapping takes the last one); otherwise no extra request.
        """
        clock = next((v.raw for v in values if v.ident.di == TIME_DI), None)
        if not isinstance(clock, time) or DATE_DI not in started:
            return []
        since_midnight = clock.hour * 3600 + clock.minute * 60 + clock.second
        span_s = (self.clock.now_ns() - started[DATE_DI]) / 1e9
        if since_midnight > span_s + 1.0 or started[DATE_DI] > started.get(TIME_DI, 0):
            return []
        return await self._read_one(bus, self._decoders[DATE_DI])

    async def _read_one(self, bus: Bus, decoder: Decoder) -> list[Value]:
        di = decoder.ident.di
        try:
            got = await bus.read(self.meter.address, decoder)
        except ErrorReply as e:
            if decoder.ident.is_block and e.code & NO_DATA:
                log.info("%s: meter %s reads no block %s; reading its members instead",
                         self.meter.id, self.meter.address, decoder.ident.text)
                members = [self._decoders[m] for m in decoder.ident.members]
                at = self.plan.index(decoder)
                self.plan[at : at + 1] = members
                out: list[Value] = []
                for m in members:
                    out += await self._read_one(bus, m)
                return out
            if self.refused.get(di) != str(e):
                log.warning("%s: %s (left out of its readings)", self.meter.id, e)
            self.refused[di] = str(e)
            return []
        if self.refused.pop(di, None) is not None:
            log.info("%s: %s answered again", self.meter.id, decoder.ident.text)
        return got


class Dlt645Source(PolledSource):
    name = "dlt645"

    def __init__(self, config: Config, clock: Clock, emit: Emit,
                 on_poll: PollHook | None = None, catalog: Catalog | None = None) -> None:
        super().__init__()
        catalog = catalog or load_catalog()
        shared = decoders(catalog)
        cs = config.collector
        self.links: dict[str, Dlt645Link] = {}
        for plant in config.plants():
            for gw in plant.dlt645_gateways:
                link = self.links[gw.id] = Dlt645Link(
                    gw.host, gw.port, LinkOptions(gw.timeout_s, gw.byte_time_s(),
                                                  gw.pause_between_requests_s, gw.preamble),
                    name=f"gateway {gw.id} ({gw.host}:{gw.port})")
                for m in gw.meters:
                    self.pollers.append(Dlt645Poller(
                        plant, m, clock, emit, max_backoff_s=cs.max_backoff_s,
                        jitter_s=cs.jitter_s, on_poll=on_poll, night=None, meter=m, link=link,
                        decoders=shared, mapping=MeterMapping(m, catalog, plant.timezone)))

    async def start(self) -> None:
        await super().start()
        log.info("polling %d DL/T 645 meters on %d gateways", len(self.pollers),
                 len(self.links))

    async def _close(self) -> None:
        for link in self.links.values():
            with contextlib.suppress(Exception):
                await asyncio.wait_for(link.close(), 5)


def has_dlt645(config: Config) -> bool:
    return any(p.dlt645_gateways for p in config.plants())
