"""One clock for real and simulated time, shared by the simulator and the collector.

In production it is the wall clock (``Clock.real()``). In the demo and the tests the simulator
runs a faster clock and the collector stamps readings with the same one, so it lives in neither
package: the simulator is an independent party and must not import the collector.

sim_now = sim_start + (wall_now - wall_anchor) * speed. The simulator writes its clock to a
small JSON file; a collector started with ``--sim-clock FILE`` stamps readings with the same
simulated time, so a day at ``--speed 1440`` passes in a minute for both.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path


@dataclass(frozen=True, slots=True)
class Clock:
    sim_start_ns: int  # UTC ns at the anchor
    speed: float = 1.0
    wall_anchor: float = 0.0  # time.time() at sim_start

    @classmethod
    def starting(cls, start: datetime | None, speed: float) -> Clock:
        now = time.time()
        begin = start or datetime.fromtimestamp(now, UTC)
        return cls(int(begin.timestamp() * 1e9), float(speed), now)

    @classmethod
    def real(cls) -> Clock:
        """Wall-clock time: speed 1, anchored at the epoch."""
        return cls(0, 1.0, 0.0)

    def now_ns(self) -> int:
        return self.sim_start_ns + int((time.time() - self.wall_anchor) * self.speed * 1e9)

    def wall_for(self, sim_ns: int) -> float:
        """The time.time() at which the simulated instant ``sim_ns`` comes."""
        return self.wall_anchor + (sim_ns - self.sim_start_ns) / 1e9 / self.speed

    def real_seconds(self, sim_seconds: float) -> float:
        return sim_seconds / self.speed

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"sim_start_ns": self.sim_start_ns, "speed": self.speed,
                                   "wall_anchor": self.wall_anchor}))
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path) -> Clock:
        d = json.loads(path.read_text())
        return cls(int(d["sim_start_ns"]), float(d["speed"]), float(d["wall_anchor"]))
