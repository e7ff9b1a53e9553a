"""The five KPIs of one plant over one period, from counted inputs (no I/O here).

Period P = [a, b), a local day or month in the plant's time zone, cut at "now" if it has not
ended. D = the plant's configured devices.

- online rate     = sum_d received_d / sum_d expected_d. A slot of device d is an instant
                    k x poll_interval_s (UTC epoch) in P; it is *expected* unless d is an
                    inverter in night mode and the sun is below collector.night_elevation_deg
                    at the plant; it is *received* when it is expected and InfluxDB holds a
                    reading of d in [slot, slot + interval) with a good key field (inverters
                    p_ac_w, meters e_export_kwh).
- fault rate      = sum_d seconds of P in which d had an active *major* alarm (from each raise
                    to the end of its condition; still active: to the end of P)
                    / (|D| x seconds of P).
- generation capability = E_actual / E_expected: the plant's on-grid energy in P (its meters'
                    export counters; without a meter, its inverters' lifetime counters: the
                    rise within each local day, summed) over the clear-sky expectation
                    (kpi/expected.py).
- O&M timeliness  = mean time from raise to acknowledgement, and from raise to clear, over the
                    plant's major and minor alarms first raised in P (those acknowledged,
                    those cleared); warnings (data quality notes) do not count.
- O&M coverage    = of those alarms, the share acknowledged within kpi.ack_target_s of their
                    raise. No alarms: no value (not 100 %).

A month is computed from its days' counts (sums of numerators and denominators), never as a
mean of daily rates.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from collector.alarms.model import Alarm, State, Transition

S = 1_000_000_000
VISIT_SEVERITIES = ("major", "minor")


@dataclass(frozen=True, slots=True)
class Kpi:
    plant: str
    period: str  # "2020-06-21" or "2020-06"
    span: str  # day | month
    start_ns: int
    end_ns: int
    readings_expected: int
    readings_received: int
    device_s: float  # |D| x seconds of P
    fault_s: float
    energy_kwh: float | None
    expected_kwh: float
    alarms: int  # major and minor, first raised in P
    acknowledged: int
    acknowledged_in_target: int
    cleared: int
    ack_s_total: float
    clear_s_total: float

    @property
    def online_rate(self) -> float | None:
        return _ratio(self.readings_received, self.readings_expected)

    @property
    def fault_rate(self) -> float | None:
        return _ratio(self.fault_s, self.device_s)

    @property
    def generation_capability(self) -> float | None:
        return None if self.energy_kwh is None else _ratio(self.energy_kwh, self.expected_kwh)

    @property
    def coverage(self) -> float | None:
        return _ratio(self.acknowledged_in_target, self.alarms)

    @property
    def mean_ack_s(self) -> float | None:
        return _ratio(self.ack_s_total, self.acknowledged)

    @property
    def mean_clear_s(self) -> float | None:
        return _ratio(self.clear_s_total, self.cleared)


def _ratio(num: float, den: float) -> float | None:
    return num / den if den else None


def active_intervals(history: Sequence[Transition], end_ns: int) -> list[tuple[int, int]]:
    """[raise, end of condition) spans of one alarm, from its transitions in time order.

    A cleared transition is stamped with the moment its condition ended, so the span ends
    there; an alarm still active at ``end_ns`` counts to it.
    """
    spans: list[tuple[int, int]] = []
    since: int | None = None
    for t in history:
        if t.state is State.RAISED and since is None:
            since = t.ts_ns
        elif t.state in (State.CLEARED, State.CLOSED) and since is not None:
            spans.append((since, t.ts_ns))
            since = None
    if since is not None:
        spans.append((since, end_ns))
    return spans


def covered_s(spans: Iterable[tuple[int, int]], start_ns: int, end_ns: int) -> float:
    """Seconds of [start, end) inside the union of ``spans``."""
    clipped = sorted((max(a, start_ns), min(b, end_ns)) for a, b in spans
                     if b > start_ns and a < end_ns)
    total, cur_a, cur_b = 0, None, None
    for a, b in clipped:
        if cur_b is None or a > cur_b:
            if cur_b is not None and cur_a is not None:
                total += cur_b - cur_a
            cur_a, cur_b = a, b
        else:
            cur_b = max(cur_b, b)
    if cur_a is not None and cur_b is not None:
        total += cur_b - cur_a
    return total / S


def fault_seconds(devices: Sequence[str], alarms: Sequence[Alarm],
                  histories: dict[int, list[Transition]], start_ns: int,
                  end_ns: int) -> float:
    per_device: dict[str, list[tuple[int, int]]] = {d: [] for d in devices}
    for a in alarms:
        if a.definition.severity == "major" and a.device in per_device:
            per_device[a.device] += active_intervals(histories.get(a.id, []), end_ns)
    return sum(covered_s(spans, start_ns, end_ns) for spans in per_device.values())


@dataclass(frozen=True, slots=True)
class OmCounts:
    alarms: int
    acknowledged: int
    in_target: int
    cleared: int
    ack_s_total: float
    clear_s_total: float


def om_counts(alarms: Sequence[Alarm], start_ns: int, end_ns: int,
              ack_target_s: float) -> OmCounts:
    """Timeliness and coverage inputs: major and minor alarms first raised in [start, end)."""
    n = acked = in_target = cleared = 0
    ack_total = clear_total = 0.0
    for a in alarms:
        if a.definition.severity not in VISIT_SEVERITIES or \
                not start_ns <= a.raised_ns < end_ns:
            continue
        n += 1
        if a.acked_ns is not None:
            acked += 1
            wait = (a.acked_ns - a.raised_ns) / S
            ack_total += wait
            in_target += wait <= ack_target_s
        if a.ended_ns is not None:
            cleared += 1
            clear_total += (a.ended_ns - a.raised_ns) / S
    return OmCounts(n, acked, in_target, cleared, ack_total, clear_total)


def month_of(days: Sequence[Kpi], label: str, om: OmCounts) -> Kpi:
    """A month from its days' counts; O&M figures from the month's own alarms."""
    energy = [d.energy_kwh for d in days if d.energy_kwh is not None]
    return Kpi(days[0].plant, label, "month", days[0].start_ns, days[-1].end_ns,
               sum(d.readings_expected for d in days), sum(d.readings_received for d in days),
               sum(d.device_s for d in days), sum(d.fault_s for d in days),
               sum(energy) if energy else None, sum(d.expected_kwh for d in days),
               om.alarms, om.acknowledged, om.in_target, om.cleared, om.ack_s_total,
               om.clear_s_total)
