"""A plant's generation capability for the day: its energy against pvlib's clear-sky expectation.

Judged once a day per plant, at sunset (the sun passing below night mode's line), over the
daylight the collector watched from sunrise: actual = the rise of the plant's meters' export
counters (or, without a meter, of its inverters' lifetime counters) from sunrise to sunset;
expected = kpi.expected over the same span. Below ``ratio``: raised (device = the plant);
at or above ``clear_ratio``: off. A day the collector did not see begin is not judged.
"""

from __future__ import annotations

from dataclasses import dataclass

from collector.alarms.builtin import Builtins
from collector.alarms.fleet import DeviceInfo, PlantInfo
from collector.alarms.lifecycle import Lifecycle
from collector.alarms.model import Signal
from collector.reading import Quality, Reading
from config.alarm_settings import CapabilitySettings

GOOD = Quality.GOOD


@dataclass(frozen=True, slots=True)
class CapabilityJob:
    plant: str
    start_ns: int
    end_ns: int
    actual_kwh: float


def counter_field(kind: str) -> str:
    return "e_export_kwh" if kind == "meter" else "e_total_kwh"


class CapabilityDetector:
    def __init__(self, builtins: Builtins, settings: CapabilitySettings,
                 plants: dict[str, PlantInfo], devices: dict[str, DeviceInfo]) -> None:
        self.defn = builtins.low_capability
        self.s = settings
        self.plants, self.devices = plants, devices
        self._field = {d.id: counter_field(d.kind) for d in devices.values()}  # the counted one
        self._last: dict[str, float] = {}
        self._mark: dict[str, float | None] = {}  # at sunrise (None: take the first reading)
        self._rose: dict[str, int] = {}  # plants whose sunrise we saw, and when

    def observe(self, r: Reading) -> None:
        f = self._field.get(r.device)
        if f is None:
            return
        q = r.quality  # r.good(f), inlined: this runs per reading
        v = r.fields.get(f) if not q or q.get(f, GOOD) is GOOD else None
        if v is None:
            return
        self._last[r.device] = v
        if self.devices[r.device].plant in self._rose and self._mark.get(r.device, 0.0) is None:
            self._mark[r.device] = v

    def _counted(self, plant: PlantInfo) -> tuple[str, ...]:
        metered = [m for m in plant.meters if m in self.devices]
        return tuple(metered) if metered else plant.inverters

    def tick(self, now_ns: int, rose: list[str], set_: list[str]) -> list[CapabilityJob]:
        for pid in rose:
            self._rose[pid] = now_ns
            for dev in self._counted(self.plants[pid]):
                self._mark[dev] = self._last.get(dev)
        jobs = []
        for pid in set_:
            start = self._rose.pop(pid, None)
            if start is None:
                continue  # we did not see this day begin
            actual = 0.0
            for dev in self._counted(self.plants[pid]):
                mark, last = self._mark.pop(dev, None), self._last.get(dev)
                if mark is not None and last is not None:
                    actual += max(0.0, last - mark)
            jobs.append(CapabilityJob(pid, start, now_ns, actual))
        return jobs

    def judge(self, job: CapabilityJob, expected_kwh: float, lc: Lifecycle) -> None:
        if expected_kwh <= 0:
            return
        plant = self.plants[job.plant]
        ratio = job.actual_kwh / expected_kwh
        if ratio < self.s.ratio and lc.needs(plant.id, self.defn.id, True):
            lc.signal(Signal(plant.id, plant.id, self.defn, True, job.end_ns, plant.village,
                             ratio, f"{job.actual_kwh:.1f} kWh from sunrise to sunset, "
                                    f"clear sky {expected_kwh:.1f} kWh ({ratio:.0%})"))
        elif ratio >= self.s.clear_ratio and lc.needs(plant.id, self.defn.id, False):
            lc.signal(Signal(plant.id, plant.id, self.defn, False, job.end_ns, plant.village,
                             ratio))
