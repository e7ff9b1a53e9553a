"""How much CPU the processes beside a client took while it was measured.

At 20,000 devices the benchmark's machine is full: the fleet's servers answer 4,000 reads a
second and influxd stores what the collector writes. The floor writes nothing, so influxd
idles during its runs; the collector has to share the two cores with influxd's ingest. This
samples each named process's CPU time from /proc every half second while a client runs, so
the result says in cores what each took during that client's measured window.
"""

from __future__ import annotations

import os
import threading
import time

TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process so far (0 once it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICK


class CpuSampler:
    """``with CpuSampler({"influxd": [pid], ...}) as s: ...``, then ``s.cores(t0, t1)``."""

    def __init__(self, groups: dict[str, list[int]], period_s: float = 0.5) -> None:
        self.groups = groups
        self.period_s = period_s
        self.samples: list[tuple[float, dict[str, float]]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> None:
        self.samples.append((time.time(), {name: sum(cpu_seconds(p) for p in pids)
                                           for name, pids in self.groups.items()}))

    def _run(self) -> None:
        while not self._stop.is_set():
            self._sample()
            self._stop.wait(self.period_s)

    def __enter__(self) -> CpuSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()

    def cores(self, t0: float, t1: float) -> dict[str, float]:
        """Each group's CPU over [t0, t1] in cores, from the samples nearest inside it."""
        inside = [s for s in self.samples if t0 <= s[0] <= t1]
        if len(inside) < 2:
            return {}
        (a, first), (b, last) = inside[0], inside[-1]
        return {name: round((last[name] - first[name]) / (b - a), 2) for name in self.groups}

    def cores_by_second(self, t0: float, seconds: int) -> dict[str, list[float | None]]:
        """Each group's cores in each whole second from ``t0`` (None: too few samples)."""
        out: dict[str, list[float | None]] = {name: [] for name in self.groups}
        for k in range(seconds):
            share = self.cores(t0 + k, t0 + k + 1.5)  # samples are half a second apart
            for name in self.groups:
                out[name].append(share.get(name))
        return out
