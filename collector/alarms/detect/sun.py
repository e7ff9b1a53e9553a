"""The sun at each plant, as the stage's timer sees it: elevation, sunrise and sunset.

"Up" means above ``collector.night_elevation_deg``, the same line night mode draws: below it a
silent inverter is asleep. Elevations are refreshed every tick (the sun moves about 0.04 degrees
in 10 s), so checks made per reading use the last tick's value instead of computing it again.
"""

from __future__ import annotations

from collector.alarms.fleet import PlantInfo
from collector.night import sun_elevation_deg


class SunTracker:
    def __init__(self, plants: dict[str, PlantInfo], night_deg: float) -> None:
        self.plants = plants
        self.night_deg = night_deg
        self.elevation: dict[str, float] = {}
        self.up: dict[str, bool] = {}

    def update(self, now_ns: int) -> tuple[list[str], list[str]]:
        """Refresh; return the plants where the sun rose, and where it set, since last time."""
        rose, set_ = [], []
        for pid, p in self.plants.items():
            el = sun_elevation_deg(p.latitude, p.longitude, now_ns)
            self.elevation[pid] = el
            up = el >= self.night_deg
            before = self.up.get(pid)
            if before is not None and up and not before:
                rose.append(pid)
            elif before and not up:
                set_.append(pid)
            self.up[pid] = up
        return rose, set_
