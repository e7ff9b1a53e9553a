"""Settings of the alarm stage (`alarms:`), its notifications and the KPIs (`kpi:`).

Durations of conditions (``for_s``, ``hold_s``, windows) are on the collector's clock, so a
simulated day at 1440x behaves like a real one; network timings of notifications
(``digest_wait_s``, retries, timeouts) are real seconds.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, model_validator

from config.secrets import Secret
from config.strict import ID_PATTERN, Strict

Severity = Literal["major", "minor", "warning"]
AlarmKind = Literal["device_code", "comm_loss", "threshold", "performance", "data_quality"]
Event = Literal["raised", "acknowledged", "cleared", "closed"]
FIELD_PATTERN = r"^[a-z][a-z0-9_]*$"


class ThresholdRule(Strict):
    """A limit on canonical fields: raised after ``for_s`` beyond it, cleared past ``clear``."""

    id: str = Field(pattern=ID_PATTERN, description="alarm id (unique among the rules)")
    fields: list[str] = Field(
        min_length=1, description="canonical fields checked (any beyond the limit raises)")
    above: float | None = Field(None, description="raise when a field is above this")
    below: float | None = Field(None, description="raise when a field is below this")
    clear: float = Field(description="hysteresis: every field must be back past this to clear")
    for_s: float = Field(300.0, ge=0, le=86_400, description="how long beyond the limit first")
    severity: Severity = Field("minor", description="major, minor or warning")
    name: str = Field(min_length=1, description="English name")
    name_zh: str = Field(min_length=1, description="Chinese name")
    action: str = Field("", description="what a technician should do (English)")
    action_zh: str = Field("", description="what a technician should do (Chinese)")

    @model_validator(mode="after")
    def _one_side(self) -> ThresholdRule:
        if (self.above is None) == (self.below is None):
            raise ValueError("give exactly one of above or below")
        if self.above is not None and self.clear > self.above:
            raise ValueError(f"clear {self.clear:g} must not be above the limit {self.above:g}")
        if self.below is not None and self.clear < self.below:
            raise ValueError(f"clear {self.clear:g} must not be below the limit {self.below:g}")
        for f in self.fields:
            if not re.match(FIELD_PATTERN, f):
                raise ValueError(f"{f!r} is no canonical field name (e.g. t_internal_c)")
        return self


def _v(field: str) -> list[str]:
    return [f"{field}_l{n}_v" for n in (1, 2, 3)]


VOLTAGES = _v("v_ac") + _v("v")  # inverter and meter phase voltages
FREQUENCIES = ["f_ac_hz", "f_hz"]
DEFAULT_THRESHOLDS: list[dict[str, object]] = [
    {"id": "temperature-high", "fields": ["t_internal_c"], "above": 75.0, "clear": 70.0,
     "for_s": 600.0, "severity": "minor", "name": "Internal temperature high",
     "name_zh": "机内温度过高",
     "action": "Check ventilation, fans and shading of the inverter; clean the heat sink.",
     "action_zh": "检查逆变器通风、风扇和遮阳，清洁散热器。"},
    {"id": "insulation-low", "fields": ["r_insulation_mohm"], "below": 0.5, "clear": 0.6,
     "for_s": 300.0, "severity": "major", "name": "Insulation resistance low",
     "name_zh": "绝缘阻抗低",
     "action": "Measure each string's insulation to ground; look for damaged cables or wet "
               "connectors.",
     "action_zh": "逐串测量对地绝缘，检查电缆破损和接头受潮。"},
    {"id": "grid-overvoltage", "fields": VOLTAGES, "above": 253.0, "clear": 250.0,
     "for_s": 60.0, "severity": "minor", "name": "Grid voltage high", "name_zh": "电网电压过高",
     "action": "Measure the voltage at the connection point; tell the grid company if it "
               "persists.", "action_zh": "测量并网点电压，持续偏高请联系供电公司。"},
    {"id": "grid-undervoltage", "fields": VOLTAGES, "below": 195.5, "clear": 200.0,
     "for_s": 60.0, "severity": "minor", "name": "Grid voltage low", "name_zh": "电网电压过低",
     "action": "Measure the voltage at the connection point; tell the grid company if it "
               "persists.", "action_zh": "测量并网点电压，持续偏低请联系供电公司。"},
    {"id": "grid-overfrequency", "fields": FREQUENCIES, "above": 50.2, "clear": 50.1,
     "for_s": 60.0, "severity": "minor", "name": "Grid frequency high",
     "name_zh": "电网频率过高", "action": "Report repeated events to the grid company.",
     "action_zh": "多次出现请报告供电公司。"},
    {"id": "grid-underfrequency", "fields": FREQUENCIES, "below": 49.5, "clear": 49.6,
     "for_s": 60.0, "severity": "minor", "name": "Grid frequency low",
     "name_zh": "电网频率过低", "action": "Report repeated events to the grid company.",
     "action_zh": "多次出现请报告供电公司。"},
]


def _default_thresholds() -> list[ThresholdRule]:
    return [ThresholdRule.model_validate(r) for r in DEFAULT_THRESHOLDS]


class CommLossSettings(Strict):
    enabled: bool = Field(True, description="raise when a device stops delivering readings")
    missed_polls: int = Field(
        3, ge=1, le=1000, description="poll intervals without a good reading (sun up)")
    min_elevation_deg: float = Field(
        6.0, ge=-18, le=60,
        description="inverters in night mode are judged only while the sun is above this")
    severity: Severity = Field("major", description="major, minor or warning")


class PeerYieldSettings(Strict):
    enabled: bool = Field(True, description="compare each inverter's yield with its peers")
    window_s: float = Field(3600.0, ge=60, le=86_400, description="yield window")
    ratio: float = Field(0.8, gt=0, lt=1, description="raise below this share of the median")
    clear_ratio: float = Field(0.9, gt=0, le=1, description="clear at or above this share")
    min_peers: int = Field(3, ge=2, le=10_000, description="inverters needed for a median")
    min_yield_kwh_kwp: float = Field(
        0.05, ge=0, description="median yield below this (dusk, snow): no judgement")
    severity: Severity = Field("minor", description="major, minor or warning")


class ZeroOutputSettings(Strict):
    enabled: bool = Field(True, description="an answering inverter producing nothing by day")
    min_elevation_deg: float = Field(20.0, ge=0, le=90, description="sun at least this high")
    max_w: float = Field(10.0, ge=0, description="AC power at or below this counts as zero")
    for_s: float = Field(900.0, ge=0, le=86_400, description="how long first")
    severity: Severity = Field("major", description="major, minor or warning")


class StringSettings(Strict):
    enabled: bool = Field(True, description="a PV string's current against its siblings")
    ratio: float = Field(0.8, gt=0, lt=1, description="raise below this share of the others")
    clear_ratio: float = Field(0.9, gt=0, le=1, description="clear at or above this share")
    min_current_a: float = Field(
        1.0, ge=0, description="siblings' median current below this: too dark to judge")
    for_s: float = Field(600.0, ge=0, le=86_400, description="how long first")
    severity: Severity = Field("minor", description="major, minor or warning")


class CapabilitySettings(Strict):
    enabled: bool = Field(True, description="the plant's day against pvlib's clear sky")
    ratio: float = Field(
        0.5, gt=0, lt=2, description="raise when a day's generation capability is below this")
    clear_ratio: float = Field(0.6, gt=0, le=2, description="clear at or above this")
    severity: Severity = Field("minor", description="major, minor or warning")


class PerformanceSettings(Strict):
    peers: PeerYieldSettings = Field(default_factory=PeerYieldSettings)
    zero_output: ZeroOutputSettings = Field(default_factory=ZeroOutputSettings)
    strings: StringSettings = Field(default_factory=StringSettings)
    capability: CapabilitySettings = Field(default_factory=CapabilitySettings)


class StuckSettings(Strict):
    enabled: bool = Field(True, description="a field that keeps one value while the sun is up")
    fields: list[str] = Field(
        default_factory=lambda: ["p_ac_w", "p_w"], description="canonical fields watched")
    for_s: float = Field(1800.0, ge=0, le=86_400, description="unchanged this long")
    min_elevation_deg: float = Field(10.0, ge=-18, le=90, description="only while sun above")
    severity: Severity = Field("warning", description="major, minor or warning")


class DataQualitySettings(Strict):
    counters: bool = Field(True, description="a counter the counter guard refused")
    spool: bool = Field(True, description="the InfluxDB spool dropping data over its cap")
    stuck: StuckSettings = Field(default_factory=StuckSettings)
    severity: Severity = Field("warning", description="severity of counter alarms")


class Channel(Strict):
    """Where notifications go: a robot or webhook URL (a secret: robot URLs carry a token)."""

    id: str = Field(pattern=ID_PATTERN, description="names the channel in rules and logs")
    type: Literal["webhook", "wecom", "dingtalk"] = Field(
        description="webhook (generic JSON), wecom (企业微信) or dingtalk (钉钉) robot")
    url: Secret = Field(description="the webhook URL (a secret)")
    secret: Secret | None = Field(None, description="dingtalk: the signing secret (加签)")
    at_mobiles: list[str] = Field(default_factory=list, description="phone numbers to @")
    per_minute: int = Field(20, ge=1, le=600, description="messages per minute at most")
    lang: Literal["zh", "en"] = Field("zh", description="language of the messages")

    @model_validator(mode="after")
    def _secret_for_dingtalk(self) -> Channel:
        if self.secret is not None and self.type != "dingtalk":
            raise ValueError("secret (signing) is a dingtalk option")
        return self


class Rule(Strict):
    """Which alarms go to which channels; an empty list matches everything."""

    channels: list[str] = Field(min_length=1, description="channel ids")
    plants: list[str] = Field(default_factory=list, description="plant ids (empty: all)")
    severities: list[Severity] = Field(default_factory=list, description="(empty: all)")
    kinds: list[AlarmKind] = Field(default_factory=list, description="(empty: all)")
    events: list[Event] = Field(
        default_factory=lambda: ["raised", "cleared"], description="transitions to send")


class NotifySettings(Strict):
    channels: list[Channel] = Field(default_factory=list, description="robots and webhooks")
    rules: list[Rule] = Field(default_factory=list, description="routing, see the README")
    digest_wait_s: float = Field(
        5.0, ge=0, le=600, description="real seconds to gather alarms into one message")
    timeout_s: float = Field(10.0, gt=0, le=120, description="one HTTP request")
    retry_initial_s: float = Field(2.0, gt=0, le=600, description="first retry delay")
    retry_max_s: float = Field(300.0, gt=0, le=86_400, description="retry delay cap")
    max_pending: int = Field(
        10_000, ge=10, le=1_000_000, description="per channel; beyond it the oldest go")

    @model_validator(mode="after")
    def _known_channels(self) -> NotifySettings:
        ids = [c.id for c in self.channels]
        if len(ids) != len(set(ids)):
            raise ValueError("channel ids must be unique")
        for i, r in enumerate(self.rules):
            missing = [c for c in r.channels if c not in ids]
            if missing:
                raise ValueError(f"rules[{i}]: no channel {', '.join(missing)}")
        return self


class AlarmSettings(Strict):
    enabled: bool = Field(True, description="run the alarm stage in the collector")
    tick_s: float = Field(
        10.0, gt=0, le=3600, description="how often timers (communication loss) are checked")
    hold_s: float = Field(
        300.0, ge=0, le=86_400, description="a condition must stay away this long to clear")
    close_after_s: float = Field(
        3600.0, ge=0, le=30 * 86_400,
        description="a cleared alarm closes after this long without coming back")
    flap_count: int = Field(
        4, ge=2, le=1000, description="this many raises within flap_window_s: flapping")
    flap_window_s: float = Field(
        3600.0, gt=0, le=7 * 86_400,
        description="where raises are counted; a flapping alarm clears after this long away")
    comm_loss: CommLossSettings = Field(default_factory=CommLossSettings)
    thresholds: list[ThresholdRule] = Field(
        default_factory=_default_thresholds, description="limits; the list replaces defaults")
    performance: PerformanceSettings = Field(default_factory=PerformanceSettings)
    data_quality: DataQualitySettings = Field(default_factory=DataQualitySettings)
    notify: NotifySettings = Field(default_factory=NotifySettings)

    @model_validator(mode="after")
    def _unique_rules(self) -> AlarmSettings:
        ids = [r.id for r in self.thresholds]
        dup = sorted({i for i in ids if ids.count(i) > 1})
        if dup:
            raise ValueError(f"threshold ids used twice: {', '.join(dup)}")
        return self


class KpiSettings(Strict):
    ack_target_s: float = Field(
        14_400.0, gt=0, le=30 * 86_400,
        description="O&M coverage: an alarm acknowledged within this counts")
    pr_reference: float = Field(
        0.8, gt=0, le=1.2, description="performance ratio the expected energy assumes")
