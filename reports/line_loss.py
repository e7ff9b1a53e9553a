"""The line-loss report: per plant and period, the inverters' energy against the settlement
meter's, in kWh and percent, flagged when the gap is larger than a plant should lose.

Between the inverters and the grid company's settlement meter (关口表) a plant loses a little
energy in cables and transformers: typically 1-3%. A larger gap is a metering fault, theft or
a mis-wired CT, and it is money; a meter that counts more than the inverters made is as
suspect (a wrong ratio, ``export_is`` the wrong way round, a meter that counts more than this
plant). So a period is flagged when its loss is above ``max_loss_pct`` or below zero, and
when its figures are incomplete.

Energy over a period is each lifetime counter at the period's closing local midnight minus
the counter at its opening one, "the counter at a midnight" being the last stored reading at
or before it (as the allocator counts a day). A boundary with no reading within ``stale_s``
before it makes the period incomplete: a counter last read two days earlier does not say how
the energy of those days splits.

The settlement meter of a plant is its DL/T 645 meter(s) when it has any (the grid company's
meter), else its Modbus meter(s).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal, Protocol
from zoneinfo import ZoneInfo

from config.profiles import ProfileRegistry
from config.schema import Config, Plant
from influx import names
from reports.errors import ReportError

PeriodKind = Literal["day", "month"]
STALE_S = 86_400.0


@dataclass(frozen=True, slots=True)
class Boundary:
    """A counter value at a boundary: the last reading at or before it, and when it was."""

    value: float
    ts_ns: int


class Counters(Protocol):
    def at(self, measurement: str, field: str, plant: str, at_ns: int
           ) -> dict[str, Boundary]:
        """Per device of ``plant``: its last ``field`` reading at or before ``at_ns``."""
        ...


@dataclass(frozen=True, slots=True)
class Period:
    label: str
    start: date
    end: date  # exclusive


@dataclass(frozen=True, slots=True)
class LossRow:
    plant: str
    period: str
    inverter_kwh: float | None
    meter_kwh: float | None
    meters: tuple[str, ...]
    inverters: int
    flag: str = ""  # empty: within limits

    @property
    def loss_kwh(self) -> float | None:
        if self.inverter_kwh is None or self.meter_kwh is None:
            return None
        return self.inverter_kwh - self.meter_kwh

    @property
    def loss_pct(self) -> float | None:
        loss = self.loss_kwh
        if loss is None or not self.inverter_kwh:
            return None
        return loss / self.inverter_kwh * 100.0


def periods(first: date, last: date, kind: PeriodKind) -> list[Period]:
    """The days or calendar months from ``first`` to ``last`` (both included)."""
    if last < first:
        raise ReportError(f"the report ends ({last}) before it begins ({first})")
    out: list[Period] = []
    if kind == "day":
        day = first
        while day <= last:
            out.append(Period(day.isoformat(), day, day + timedelta(days=1)))
            day += timedelta(days=1)
        return out
    month = first.replace(day=1)
    while month <= last:
        nxt = (month + timedelta(days=32)).replace(day=1)
        out.append(Period(f"{month:%Y-%m}", month, nxt))
        month = nxt
    return out


def settlement_meters(plant: Plant, registry: ProfileRegistry) -> list[str]:
    dlt645 = [m.id for g in plant.dlt645_gateways for m in g.meters]
    if dlt645:
        return dlt645
    return [d.id for d in plant.all_devices()
            if d.profile in registry and registry[d.profile].kind == "meter"]


def inverters(plant: Plant, registry: ProfileRegistry) -> list[str]:
    return [d.id for d in plant.all_devices()
            if d.profile in registry and registry[d.profile].kind == "inverter"]


def _midnight_ns(day: date, tz: ZoneInfo) -> int:
    return int(datetime.combine(day, datetime.min.time(), tz).timestamp()) * 10**9


def _energy(counters: Counters, measurement: str, field: str, plant: str,
            devices: Sequence[str], start_ns: int, end_ns: int, stale_s: float
            ) -> tuple[float | None, list[str]]:
    """Sum over ``devices`` of the counter's rise between the boundaries; problems named."""
    opening = counters.at(measurement, field, plant, start_ns)
    closing = counters.at(measurement, field, plant, end_ns)
    total, problems = 0.0, []
    for d in devices:
        a, b = opening.get(d), closing.get(d)
        for what, edge, at in (("opening", a, start_ns), ("closing", b, end_ns)):
            if edge is None or (at - edge.ts_ns) / 1e9 > stale_s:
                problems.append(f"{d}: no {field} reading within {stale_s / 3600:g} h before "
                                f"the {what} midnight")
        if a is not None and b is not None:
            total += max(0.0, b.value - a.value)
    return (None if problems else total), problems


def line_loss(config: Config, registry: ProfileRegistry, counters: Counters, first: date,
              last: date, kind: PeriodKind = "day", max_loss_pct: float = 5.0,
              plants: Sequence[str] | None = None, stale_s: float = STALE_S) -> list[LossRow]:
    """One row per plant and period (see the module docstring)."""
    rows: list[LossRow] = []
    chosen = [p for p in config.plants() if plants is None or p.id in plants]
    if plants is not None and len(chosen) != len(set(plants)):
        unknown = sorted(set(plants) - {p.id for p in chosen})
        raise ReportError(f"no plant {', '.join(unknown)} in the config")
    for plant in chosen:
        meters, invs = settlement_meters(plant, registry), inverters(plant, registry)
        tz = ZoneInfo(plant.timezone)
        for period in periods(first, last, kind):
            lo, hi = _midnight_ns(period.start, tz), _midnight_ns(period.end, tz)
            inv, p1 = _energy(counters, names.INVERTER, names.E_TOTAL_KWH, plant.id, invs, lo,
                              hi, stale_s)
            met, p2 = _energy(counters, names.METER, names.E_EXPORT_KWH, plant.id, meters, lo,
                              hi, stale_s)
            row = LossRow(plant.id, period.label, inv, met, tuple(meters), len(invs))
            rows.append(_flagged(row, p1 + p2, max_loss_pct))
    return rows


def _flagged(row: LossRow, problems: list[str], max_loss_pct: float) -> LossRow:
    if not row.meters:
        flag = "no settlement meter"
    elif row.inverters == 0:
        flag = "no inverters"
    elif problems:
        flag = "incomplete: " + "; ".join(problems[:3]) + (
            f" (+{len(problems) - 3} more)" if len(problems) > 3 else "")
    elif row.loss_pct is None:
        flag = ""  # no energy at all (a dark period): nothing to compare
    elif row.loss_pct > max_loss_pct:
        flag = f"loss above {max_loss_pct:g}%: a metering fault, theft or a mis-wired CT?"
    elif row.loss_pct < 0:
        flag = ("meter above inverters: a wrong CT/PT ratio, export_is the wrong way round, "
                "or an inverter counter short?")
    else:
        flag = ""
    return LossRow(row.plant, row.period, row.inverter_kwh, row.meter_kwh, row.meters,
                   row.inverters, flag)
