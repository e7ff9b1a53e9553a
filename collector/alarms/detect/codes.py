"""Device codes: the vendor alarm and fault codes a device reports (``Reading.faults``).

Each code is named from the device profile's catalog (zh and en, severity, action); a code in
no catalog is raised all the same, named by its number. A code that is no longer reported is
off. ``faults`` is None for a device without fault registers (meters): nothing is judged then.
"""

from __future__ import annotations

from collector.alarms.builtin import Builtins
from collector.alarms.fleet import DeviceInfo
from collector.alarms.lifecycle import Lifecycle
from collector.alarms.model import Signal
from collector.reading import Reading

PREFIX = "code-"


class CodeDetector:
    def __init__(self, builtins: Builtins, devices: dict[str, DeviceInfo]) -> None:
        self.builtins = builtins
        self.devices = devices
        self._last: dict[str, tuple[int, ...]] = {}

    def check(self, r: Reading, lc: Lifecycle) -> None:
        faults = r.faults
        if faults is None or self._last.get(r.device) == faults:
            return  # unchanged: the lifecycle already knows (the common case, per reading)
        self._last[r.device] = faults
        info = self.devices.get(r.device)
        profile = info.profile if info is not None else r.kind
        on: set[str] = set()
        for code in faults:
            d = self.builtins.device_code(profile, code)
            on.add(d.id)
            if lc.needs(r.device, d.id, True):
                lc.signal(Signal(r.plant, r.device, d, True, r.ts_ns, r.village, float(code),
                                 f"the device reports code {code}"))
        for alarm_id in lc.open_ids(r.device):
            if alarm_id.startswith(PREFIX) and alarm_id not in on and \
                    lc.needs(r.device, alarm_id, False):
                d = lc.open[(r.device, alarm_id)].definition
                lc.signal(Signal(r.plant, r.device, d, False, r.ts_ns, r.village))
