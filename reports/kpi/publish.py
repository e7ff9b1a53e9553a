"""KPIs out: a table for the terminal and ``kpi`` points in InfluxDB (for Grafana).

Measurement ``kpi``, one point per plant and period, stamped at the period's opening local
midnight (a rerun overwrites it): tags ``plant``, ``device`` (the plant again: every point of
the pipeline's schema names one), ``village``, ``period`` (``2020-06-21`` or ``2020-06``),
``span`` (day | month); fields ``online_rate``, ``fault_rate``, ``generation_capability``,
``coverage``, ``mean_ack_s``, ``mean_clear_s`` (each absent when undefined) and the counts
behind them: ``readings_expected``, ``readings_received``, ``fault_s``, ``device_s``,
``energy_kwh``, ``expected_kwh``, ``alarms``, ``acknowledged``, ``acknowledged_in_target``,
``cleared``.
"""

from __future__ import annotations

from collections.abc import Sequence

from collector.reading import Reading
from config.influx import InfluxSettings
from influx.client import InfluxWriter
from influx.errors import Rejected
from influx.lineprotocol import encode
from reports.kpi.compute import Kpi

MEASUREMENT = "kpi"
HEADERS = {
    "zh": ["周期", "在线率", "故障率", "发电能力", "平均确认", "平均恢复", "运维覆盖率", "告警"],
    "en": ["period", "online", "fault", "capability", "to ack", "to clear", "coverage",
           "alarms"],
}


def to_reading(k: Kpi, village: str | None = None) -> Reading:
    fields: dict[str, float | None] = {
        "online_rate": k.online_rate, "fault_rate": k.fault_rate,
        "generation_capability": k.generation_capability, "coverage": k.coverage,
        "mean_ack_s": k.mean_ack_s, "mean_clear_s": k.mean_clear_s,
        "readings_expected": float(k.readings_expected),
        "readings_received": float(k.readings_received), "fault_s": k.fault_s,
        "device_s": k.device_s, "energy_kwh": k.energy_kwh, "expected_kwh": k.expected_kwh,
        "alarms": float(k.alarms), "acknowledged": float(k.acknowledged),
        "acknowledged_in_target": float(k.acknowledged_in_target),
        "cleared": float(k.cleared)}
    return Reading(MEASUREMENT, k.plant, k.plant, k.start_ns, fields, village=village,
                   tags={"period": k.period, "span": k.span})


async def write(settings: InfluxSettings, readings: Sequence[Reading]) -> None:
    """POST the points (raises an influx.errors.InfluxError when InfluxDB does not take them)."""
    writer = InfluxWriter(settings)
    try:
        bad = await writer.write(encode(readings, "s"), "s")
        if bad:
            raise Rejected("; ".join(b.reason for b in bad))
    finally:
        await writer.aclose()


def _pct(v: float | None) -> str:
    return "—" if v is None else f"{v * 100:.1f}%"


def _dur(v: float | None) -> str:
    if v is None:
        return "—"
    return f"{v / 60:.0f}m" if v < 3600 else f"{v / 3600:.1f}h"


def rows(kpis: Sequence[Kpi]) -> list[list[str]]:
    return [[k.period, _pct(k.online_rate), _pct(k.fault_rate),
             _pct(k.generation_capability), _dur(k.mean_ack_s), _dur(k.mean_clear_s),
             _pct(k.coverage), str(k.alarms)] for k in kpis]
