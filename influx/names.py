"""Measurement, tag and field names that more than one package relies on.

The collector writes them, the allocator reads the meters and writes ``revenue``, the Grafana
dashboards and the demo query them. A rename here is a schema change: stored data keeps the old
names, so the README's "InfluxDB schema" chapter and the dashboards move with it. Fields that
only one profile writes stay in that profile (their names come from ``field:`` entries);
tests/influx/test_names.py checks that every name the dashboards query is listed here and that
the profiles write the device fields named here.
"""

from __future__ import annotations

# ---- measurements ------------------------------------------------------------------------------
INVERTER = "inverter"  # one point per inverter per poll (Reading.kind)
METER = "meter"  # one point per meter per poll (Reading.kind)
REVENUE = "revenue"  # one point per plant x village x settlement period (the allocator)

# ---- tags --------------------------------------------------------------------------------------
PLANT = "plant"
DEVICE = "device"
VILLAGE = "village"  # on device points of village-level plants, and on every revenue point
PERIOD = "period"  # revenue: the period's label (2020-06, 2020Q2, 2020)

# ---- device fields (the collector) -------------------------------------------------------------
P_AC_W = "p_ac_w"  # inverter AC power
E_TOTAL_KWH = "e_total_kwh"  # inverter lifetime energy counter
E_DAY_KWH = "e_day_kwh"  # inverter energy today (resets at local midnight)
T_INTERNAL_C = "t_internal_c"
R_INSULATION_MOHM = "r_insulation_mohm"
P_W = "p_w"  # meter active power
E_EXPORT_KWH = "e_export_kwh"  # meter lifetime export counter: the on-grid energy billed
E_IMPORT_KWH = "e_import_kwh"
STATUS = "status"  # string: the normalised operating state
FAULTS = "faults"  # string: comma-separated active fault codes, "" when none
QUALITY_PREFIX = "q_"  # q_<field> = "not_implemented" | "invalid" instead of a number

INVERTER_FIELDS = (P_AC_W, E_TOTAL_KWH, E_DAY_KWH, T_INTERNAL_C, R_INSULATION_MOHM)
METER_FIELDS = (P_W, E_EXPORT_KWH, E_IMPORT_KWH)

# ---- revenue fields (the allocator) -------------------------------------------------------------
GROSS_FEN = "gross_fen"
GRID_PART_FEN = "grid_part_fen"
SUBSIDY_PART_FEN = "subsidy_part_fen"
DEDUCTIONS_FEN = "deductions_fen"
NET_FEN = "net_fen"
FEN_FIELDS = (GROSS_FEN, GRID_PART_FEN, SUBSIDY_PART_FEN, DEDUCTIONS_FEN, NET_FEN)
ENERGY_KWH = "energy_kwh"  # the plant's settled energy, split per village


def yuan(fen_field: str) -> str:
    """The display twin of an integer fen field: ``net_fen`` -> ``net_yuan`` (a float)."""
    if not fen_field.endswith("_fen"):
        raise ValueError(f"{fen_field!r} is not a fen field")
    return fen_field.removesuffix("_fen") + "_yuan"


REVENUE_FIELDS = (*FEN_FIELDS, *(yuan(f) for f in FEN_FIELDS), ENERGY_KWH)

# ---- alarm transitions (collector/alarms/points.py) -------------------------------------------
ALARM = "alarm"  # measurement, and the tag holding the alarm id
ALARM_KIND = "kind"  # tag: device code, comm loss, threshold, performance, data quality
ALARM_SEVERITY = "severity"  # tag
ALARM_STATE = "state"  # field: raised | acknowledged | cleared | closed
ALARM_SEQ = "seq"  # field: the transition's number within the alarm
ALARM_NAME_ZH = "name_zh"  # field: the alarm's Chinese name
ALARM_DETAIL = "detail"  # field
ALARM_BY = "by"  # field: who acknowledged
ALARM_NOTE = "note"  # field: the acknowledgement's note

# ---- KPIs (reports/kpi/publish.py) ------------------------------------------------------------
KPI = "kpi"  # measurement
KPI_SPAN = "span"  # tag: day | month
KPI_ONLINE_RATE = "online_rate"
KPI_FAULT_RATE = "fault_rate"
KPI_GENERATION_CAPABILITY = "generation_capability"
KPI_COVERAGE = "coverage"
KPI_MEAN_ACK_S = "mean_ack_s"
KPI_MEAN_CLEAR_S = "mean_clear_s"
