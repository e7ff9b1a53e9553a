"""The alarms pvrelief raises itself (no device reports them), in English and Chinese.

Device codes come from the vendor catalogs (collector/alarm_catalog.py); everything here is the
platform's own: communication loss, performance, data quality. Severities follow the config.
"""

from __future__ import annotations

from collections.abc import Callable

from collector.alarm_catalog import AlarmCatalog
from collector.alarms.model import AlarmDef
from config.alarm_settings import AlarmSettings, ThresholdRule

SEVERITY_ZH = {"major": "重要", "minor": "次要", "warning": "提示"}
KIND_ZH = {"device_code": "设备告警", "comm_loss": "通信中断", "threshold": "越限",
           "performance": "发电性能", "data_quality": "数据质量"}
STATE_ZH = {"raised": "产生", "acknowledged": "已确认", "cleared": "已恢复", "closed": "已关闭"}


class Builtins:
    """The platform's alarm definitions, with the severities the config gives them."""

    def __init__(self, settings: AlarmSettings, catalog: AlarmCatalog) -> None:
        self.settings = settings
        self.catalog = catalog
        self._cache: dict[tuple[object, ...], AlarmDef] = {}
        p = settings.performance
        self.comm_loss = AlarmDef(
            "comm-loss", "comm_loss", settings.comm_loss.severity, "Communication lost",
            "通信中断",
            "Check the device's power, its RS485 or network cable and the gateway; it has not "
            "answered for several poll intervals while the sun is up.",
            "检查设备供电、RS485/网线和数据采集器；日照期间连续多个采集周期无数据。")
        self.zero_output = AlarmDef(
            "zero-output", "performance", p.zero_output.severity, "No output in daylight",
            "白天无功率输出",
            "The inverter answers but produces nothing in good light: check its DC switch, "
            "fuses and status on site.",
            "逆变器通信正常但白天无输出：现场检查直流开关、熔丝和运行状态。")
        self.low_yield = AlarmDef(
            "low-yield", "performance", p.peers.severity, "Yield below its peers",
            "发电量低于同场逆变器",
            "Compare with the plant's other inverters: look for shading, soiling, a lost "
            "string or derating.",
            "与同电站其他逆变器对比，检查遮挡、积灰、组串缺失或降额运行。")
        self.low_capability = AlarmDef(
            "low-capability", "performance", p.capability.severity,
            "Low generation capability", "发电能力偏低",
            "The plant's day fell well short of the clear-sky expectation: check whether it "
            "was overcast; otherwise inspect the whole plant.",
            "电站当日发电量远低于晴空预期：先确认是否阴天，否则全站排查。")
        self.spool = AlarmDef(
            "spool-dropping", "data_quality", "major", "Data dropped: spool over its cap",
            "缓存超限，数据丢失",
            "InfluxDB has been unreachable for long: restore it or raise spool_max_bytes.",
            "InfluxDB 长时间不可用：尽快恢复，或调大 spool_max_bytes。")

    def string_low(self, n: int) -> AlarmDef:
        return self._cached(("string", n), lambda: AlarmDef(
            f"string-{n}-low", "performance", self.settings.performance.strings.severity,
            f"PV string {n} current low", f"第{n}路组串电流偏低",
            "The string delivers clearly less than its siblings: check its fuse, connectors, "
            "cable and modules for shading or damage.",
            "该组串电流明显低于其他组串：检查熔丝、接头、电缆及组件遮挡或损坏。"))

    def stuck(self, field: str) -> AlarmDef:
        return self._cached(("stuck", field), lambda: AlarmDef(
            f"stuck-{field}", "data_quality", self.settings.data_quality.stuck.severity,
            f"{field} stuck on one value", f"{field} 数值长时间不变",
            "The device or its gateway repeats an old value: restart the data logger and "
            "check the device's display.",
            "设备或采集器重复旧数据：重启数据采集器并核对设备显示。"))

    def counter(self, field: str) -> AlarmDef:
        return self._cached(("counter", field), lambda: AlarmDef(
            f"counter-{field}", "data_quality", self.settings.data_quality.severity,
            f"Energy counter {field} refused", f"电量计数异常（{field}）",
            "The counter dipped, reset or jumped and is not stored: check the device's "
            "counter and whether it was replaced or reset.",
            "电量计数下降、清零或跳变，未予存储：检查设备计数，是否更换或复位。"))

    def device_code(self, profile: str, code: int) -> AlarmDef:
        def make() -> AlarmDef:
            info = self.catalog.lookup(profile, code)
            return AlarmDef(f"code-{code}", "device_code", info.severity, info.name,
                            info.name_zh, info.action, "", code)
        return self._cached(("code", profile, code), make)

    def _cached(self, key: tuple[object, ...], make: Callable[[], AlarmDef]) -> AlarmDef:
        found = self._cache.get(key)
        if found is None:
            found = self._cache[key] = make()
        return found

    @staticmethod
    def threshold(rule: ThresholdRule) -> AlarmDef:
        return AlarmDef(rule.id, "threshold", rule.severity, rule.name, rule.name_zh,
                        rule.action, rule.action_zh)
