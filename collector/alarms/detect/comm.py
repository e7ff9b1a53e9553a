"""Communication loss: no good reading from a configured device for N poll intervals.

Sources emit only what they read, so silence is noticed by the stage's timer, not by a
reading. An inverter in night mode (``night_mode``, the default) is only judged while the sun
is above ``comm_loss.min_elevation_deg`` at its plant (and above night mode's line), and its
silence is counted from the moment the sun passed that height at the earliest: a sleeping
inverter at night is no alarm, one that sleeps a little early on a dark evening or wakes late
on a dark morning is none either, and the first polls at dawn do not find it "silent all
night". A meter is never asleep. Silence is counted from the collector's start at the earliest, and
``missed_polls`` intervals are allowed plus the device's request timeout and one tick.

Time the collector itself stood still (its event loop blocked or starved, a suspended host:
``excuse``) is not counted as any device's silence: nobody polled then, so a whole site going
"silent" at once after a stall is not a storm of alarms.

A device is heard when a good reading of it *reaches the stage*, on the collector's own clock,
not at the timestamp the reading carries. The two are one for a device this collector polls;
for a device pushed over MQTT the timestamp is the edge collector's, taken before the hand-over
(the edge's linger, the broker, this collector's batch) and on another machine's clock. Counted
from it, the hand-over's delay and any skew of the edge's clock were silence, and the reading
that ended an episode, taken before the raise but arriving after it, stamped the clear before
the raise (a negative time to clear in the KPIs). Raise and clear now share one clock, and
only the gaps between arrivals count.
"""

from __future__ import annotations

from collector.alarms.builtin import Builtins
from collector.alarms.detect.sun import SunTracker
from collector.alarms.fleet import DeviceInfo
from collector.alarms.lifecycle import Lifecycle
from collector.alarms.model import Signal
from collector.reading import Reading

S = 1_000_000_000


class CommLossDetector:
    def __init__(self, builtins: Builtins, devices: dict[str, DeviceInfo], sun: SunTracker,
                 missed_polls: int, tick_s: float, min_elevation_deg: float) -> None:
        self.defn = builtins.comm_loss
        self.devices = devices
        self.sun = sun
        self.min_deg = max(min_elevation_deg, sun.night_deg)
        self._up: dict[str, bool] = {}
        self._rose: dict[str, int] = {}  # when the sun passed min_deg while we watched
        self.limit_ns = {d.id: int((missed_polls * d.interval_s + d.timeout_s + tick_s) * S)
                         for d in devices.values()}
        self.last_good: dict[str, int] = {}
        self.started_ns: int | None = None
        self.stalled_ns = 0  # the collector's own standstill so far (simulated ns)
        self._stalled_at: dict[str, int] = {}  # stalled_ns when the device was last heard
        self._rose_stalled: dict[str, int] = {}

    def excuse(self, stalled_ns: int) -> None:
        """The collector stood still this long: no device's fault."""
        self.stalled_ns += stalled_ns

    def seen(self, r: Reading, lc: Lifecycle, now_ns: int | None = None) -> None:
        """A reading with at least one good field: the device is talking.

        ``now_ns``: when the reading reached the stage, on the clock the timer ticks with
        (None, as in tests without a clock: the reading's own timestamp stands for it).
        """
        if len(r.quality) >= len(r.fields):
            return  # nothing good in it (every field has a quality other than good)
        heard = r.ts_ns if now_ns is None else now_ns
        self.last_good[r.device] = heard
        self._stalled_at[r.device] = self.stalled_ns
        if r.device in lc.by_device and lc.needs(r.device, self.defn.id, False):
            lc.signal(Signal(r.plant, r.device, self.defn, False, heard, r.village))

    def tick(self, now_ns: int, lc: Lifecycle) -> None:
        if self.started_ns is None:
            self.started_ns = now_ns
        for pid, el in self.sun.elevation.items():
            up = el >= self.min_deg
            if up and self._up.get(pid) is False:
                self._rose[pid] = now_ns
                self._rose_stalled[pid] = self.stalled_ns
            self._up[pid] = up
        for dev in self.devices.values():
            since, stalled = self.started_ns, 0
            heard = self.last_good.get(dev.id)
            if heard is not None and heard > since:
                since, stalled = heard, self._stalled_at[dev.id]
            if dev.sleeps:
                if not self._up.get(dev.plant):
                    continue  # asleep, or about to be: no judgement at night
                rose = self._rose.get(dev.plant)
                if rose is not None and rose > since:
                    since, stalled = rose, self._rose_stalled[dev.plant]
            silent = now_ns - since - (self.stalled_ns - stalled)
            if silent > self.limit_ns[dev.id] and lc.needs(dev.id, self.defn.id, True):
                lc.signal(Signal(dev.plant, dev.id, self.defn, True, now_ns, dev.village,
                                 silent / S, f"no good reading for {silent / S:.0f} s"))
