"""Daily on-grid energy from the settlement meter's lifetime export counter in InfluxDB.

The monitoring side writes measurement ``meter`` (tags ``plant``, ``device``; float field
``e_export_kwh``, a lifetime counter in kWh; UTC timestamps). A day's energy is the counter at
the day's closing local midnight minus the counter at its opening midnight, where "the counter
at a midnight" is the last reading at or before it: each increment between two readings
counts for the day of the later reading. We fetch raw readings and do this in Python instead
of InfluxQL ``GROUP BY time(1d, offset)``, whose buckets are fixed UTC offsets that a
time-zone rule (or a reading exactly at midnight) would silently get wrong.

- Counter reset (the counter drops to below half its last value): the energy after the reset
  counts from 0; never negative. A smaller drop is a glitch (a bad reading, a meter swap
  read late): the reading is ignored and energy counts again only above the highest value,
  so a dip and its recovery are not billed twice. Both are flagged.
- One day without readings, with readings on both neighbouring days: the counter at its
  closing midnight is interpolated linearly in time between the readings around it; flagged.
  Readings are fetched from two days before the period to one day after it, so its first
  and its last day can be interpolated too.
- Two or more days in a row without readings: an EnergyError naming plant and days (the
  total is known but not how it splits over days; give those days in a CSV instead).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np

from allocator.energy import EnergyFlag, EnergyTable
from allocator.energy_csv import _ranges
from allocator.errors import EnergyError
from allocator.model import Inputs
from allocator.periods import Period
from influx import names
from influx.client import InfluxClient
from influx.errors import InfluxError
from influx.influxql import quote_ident, quote_literal

_EXTRA_BEFORE = 2  # days fetched before the period: a baseline, and its interpolation
_EXTRA_AFTER = 1  # the day after: its readings let a period's last day be interpolated


def _window(period: Period) -> tuple[date, int]:
    """First day and number of days fetched: the period with its extra days on either side."""
    return period.start - timedelta(days=_EXTRA_BEFORE), period.days + _EXTRA_BEFORE + _EXTRA_AFTER


def local_midnights_ns(first: date, count: int, tz: str) -> np.ndarray:
    """UTC nanoseconds of the local midnights opening ``first`` and the ``count - 1`` days after."""
    zone = ZoneInfo(tz)
    return np.array([
        int(datetime.combine(first + timedelta(days=i), datetime.min.time(), zone).timestamp())
        * 10**9 for i in range(count)
    ], dtype=np.int64)


def fetch_readings(client: InfluxClient, plant: str, device: str, start_ns: int,
                   end_ns: int) -> tuple[np.ndarray, np.ndarray]:
    """(time ns, counter Wh) of readings in (start_ns, end_ns], sorted by time."""
    q = (f"SELECT {quote_ident(names.E_EXPORT_KWH)} FROM {quote_ident(names.METER)} "
         f"WHERE {quote_ident(names.PLANT)} = {quote_literal(plant)} "
         f"AND {quote_ident(names.DEVICE)} = {quote_literal(device)} "
         f"AND time > {start_ns} AND time <= {end_ns}")
    try:
        series = client.query(q)
    except InfluxError as e:
        raise EnergyError(f"plant {plant}: cannot read meter {device}: {e}") from e
    rows = [v for s in series for v in s["values"]]
    rows = [(int(t), float(v)) for t, v in rows if v is not None and np.isfinite(v)]
    t = np.array([r[0] for r in rows], dtype=np.int64)
    kwh = np.array([r[1] for r in rows], dtype=np.float64)
    order = np.argsort(t, kind="stable")
    # Wh, half-up: the counter is a float in kWh; x1000 may land a hair below the integer
    return t[order], np.floor(kwh[order] * 1000 + 0.5).astype(np.int64)


def daily_energy(plant: str, period: Period, t: np.ndarray, wh: np.ndarray,
                 tz: str) -> tuple[np.ndarray, list[EnergyFlag]]:
    """Per-day Wh for the period from raw counter readings; see the module docstring."""
    first, n = _window(period)
    mid = local_midnights_ns(first, n + 1, tz)
    day_of = np.searchsorted(mid, t, side="left") - 1  # reading at a midnight closes that day
    energy = np.zeros(n, dtype=np.int64)
    has = np.zeros(n, dtype=bool)
    interpolated = np.zeros(n, dtype=bool)
    unknown = np.zeros(n, dtype=bool)
    flags: list[EnergyFlag] = []
    days = [first + timedelta(days=i) for i in range(n)]
    ok = (day_of >= 0) & (day_of < n)
    t, wh, day_of = t[ok], wh[ok], day_of[ok]
    has[day_of] = True
    if t.size:
        unknown[: day_of[0] + 1] = True  # no reading before: these days have no baseline
    base = int(wh[0]) if t.size else 0  # highest reading since the last reset
    for i in range(1, t.size):
        k, k0 = int(day_of[i]), int(day_of[i - 1])
        now = int(wh[i])
        if now >= base:
            inc, base = now - base, now
        elif 2 * now < base:  # the counter restarted from 0: count what it has since
            flags.append(EnergyFlag(plant, days[k], "counter_reset",
                                    f"counter fell from {base / 1000:.3f} to "
                                    f"{now / 1000:.3f} kWh; counted from 0"))
            inc, base = now, now
        else:
            flags.append(EnergyFlag(plant, days[k], "counter_dip_ignored",
                                    f"reading {now / 1000:.3f} kWh below {base / 1000:.3f}; "
                                    f"ignored"))
            inc = 0
        gap = k - k0
        if gap == 2:  # one day without readings, both neighbours present
            m = k - 1
            part = inc * int(mid[k] - t[i - 1]) // int(t[i] - t[i - 1])
            energy[m] += part
            energy[k] += inc - part
            interpolated[m] = True
            continue
        if gap > 2:
            unknown[k0 + 1: k + 1] = True
        energy[k] += inc
    for m in np.flatnonzero(interpolated):
        flags.append(EnergyFlag(plant, days[m], "interpolated",
                                f"no readings; counter at the closing midnight interpolated "
                                f"linearly: {energy[m] / 1000:.3f} kWh"))
    inside = slice(_EXTRA_BEFORE, _EXTRA_BEFORE + period.days)
    bad = (unknown | (~has & ~interpolated))[inside]
    if not t.size or bad.any():
        missing = [days[_EXTRA_BEFORE + i] for i in np.flatnonzero(bad)] or period.dates()
        raise EnergyError(
            f"plant {plant}: meter energy unknown on {_ranges(missing)} (no readings on two or "
            f"more days in a row, or no reading before); give those days with --energy-csv"
        )
    flags = [f for f in flags if period.start <= f.day < period.end]
    return energy[inside], sorted(flags, key=lambda f: (f.day, f.kind))


def read_energy(client: InfluxClient, inputs: Inputs, period: Period) -> EnergyTable:
    """Every plant's daily energy for ``period`` from its settlement meter's readings."""
    plant_ids = sorted(inputs.plants)
    first, n = _window(period)
    mid = local_midnights_ns(first, n + 1, inputs.timezone)
    rows, flags = [], []
    for pid in plant_ids:
        t, wh = fetch_readings(client, pid, inputs.plants[pid].meter, int(mid[0]), int(mid[-1]))
        energy, plant_flags = daily_energy(pid, period, t, wh, inputs.timezone)
        rows.append(energy)
        flags.extend(plant_flags)
    source = f"influxdb {client.base} db={client.query_db}"
    return EnergyTable(period, tuple(plant_ids), np.array(rows, dtype=np.int64).reshape(
        len(plant_ids), period.days), tuple(flags), source, meta={"timezone": inputs.timezone})
