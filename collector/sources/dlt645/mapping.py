"""From what a DL/T 645 meter says to pvrelief's ``meter`` reading, built once per meter.

The meter speaks from its own point of view, on the secondary side of its transformers:
- it counts forward (正向) and reverse (反向) energy; ``export_is`` says which is the plant's
  on-grid energy, so ``e_reverse_kwh`` becomes ``e_export_kwh`` for ``export_is: reverse``
  (tariffs alike: ``e_reverse_t2_kwh`` -> ``e_export_t2_kwh``) and the other side becomes
  ``e_import_*``;
- its signed power, currents and power factors are positive in its forward direction, while
  pvrelief's ``p_w`` is positive for export: with ``export_is: reverse`` their sign flips;
- energy and power are multiplied by ct_ratio × pt_ratio, currents by ct_ratio, voltages by
  pt_ratio (a meter that counts primary values has both ratios at 1).
Energy counters are lifetime counters for the counter guard; each rolls over where its
register does (999999.99 kWh) times the ratios.

The meter's clock (date and time identifiers, local time at the plant) becomes
``clock_offset_s``: how far the meter's clock is ahead of the collector's (the last date read
counts: the poller reads it again when date and time straddled midnight). A meter clock
that drifts moves energy between tariff periods, which is money.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from collector.reading import Reading
from collector.sources.dlt645.codec import Value
from config.dlt645_identifiers import Catalog
from config.dlt645_schema import Dlt645Meter

DATE_DI, TIME_DI = 0x04000101, 0x04000102


@dataclass(frozen=True, slots=True)
class Target:
    name: str  # the reading's field
    factor: float  # ratio, and -1 where the sign flips


class MeterMapping:
    def __init__(self, meter: Dlt645Meter, catalog: Catalog, timezone: str) -> None:
        export, other = ("e_reverse", "e_forward") if meter.export_is == "reverse" else (
            "e_forward", "e_reverse")
        ratios = {"kWh": meter.multiplier, "kW": meter.multiplier, "A": meter.ct_ratio,
                  "V": meter.pt_ratio}
        flip = meter.export_is == "reverse"
        self.targets: dict[int, Target] = {}
        counters: dict[str, str] = {}
        wrap_at: dict[str, float] = {}
        for ident in catalog.identifiers.values():
            if ident.field is None:
                continue
            name = ident.field
            if name.startswith(export + "_"):
                name = "e_export" + name[len(export):]
            elif name.startswith(other + "_"):
                name = "e_import" + name[len(other):]
            ratio = ratios.get(ident.unit or "", 1.0)
            sign = -1.0 if flip and ident.directional and ident.signed else 1.0
            self.targets[ident.di] = Target(name, ratio * sign)
            if ident.counter is not None and ident.wrap is not None:
                counters[name] = ident.counter
                wrap_at[name] = ident.wrap * ratio
        self.counters = counters  # the same mapping for every reading of this meter
        self.wrap_at = wrap_at
        self.tz = ZoneInfo(timezone)

    def fields(self, values: Sequence[Value], ts_ns: int) -> dict[str, float | None]:
        out: dict[str, float | None] = {}
        day: date | None = None
        clock: time | None = None
        for v in values:
            target = self.targets.get(v.ident.di)
            if target is not None and v.value is not None:
                out[target.name] = v.value * target.factor
            elif v.ident.di == DATE_DI and isinstance(v.raw, date):
                day = v.raw
            elif v.ident.di == TIME_DI and isinstance(v.raw, time):
                clock = v.raw
        if day is not None and clock is not None:
            meter_s = datetime.combine(day, clock, self.tz).timestamp()
            out["clock_offset_s"] = meter_s - ts_ns / 1e9
        return out

    def reading(self, values: Sequence[Value], ts_ns: int, plant: str, device: str,
                village: str | None) -> Reading:
        return Reading(kind="meter", plant=plant, device=device, ts_ns=ts_ns,
                       fields=self.fields(values, ts_ns), village=village,
                       counters=self.counters, wrap_at=self.wrap_at)
