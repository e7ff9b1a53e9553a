"""The alarm lifecycle: de-duplication, hold before clearing, flapping, closing, acks.

Detectors send signals; the lifecycle keeps at most one open alarm per (device, alarm id) and
turns signals and the passing of time into transitions (see model.py for the states):

- **on**, no open alarm: a new alarm is raised. On an active one: nothing (a clear it was
  waiting for is called off). On a cleared one: raised again, and if that makes ``flap_count``
  raises within ``flap_window_s`` it is *flapping*: its repeated raises notify nobody and it
  clears only after its condition stayed away a whole ``flap_window_s``.
- **off** on an active alarm: the clear waits ``hold_s`` (the condition must stay away that
  long), then the alarm is cleared, stamped with the moment the condition ended. An off
  stamped before the alarm's (last) raise is older news than the raise, a reading that came
  out of order (an MQTT redelivery, an edge's backlog): it ends nothing, and a later one will.
  So a clear never precedes its raise, and no time to clear is negative.
- **time**: an acknowledged alarm closes as it clears; an unacknowledged one ``close_after_s``
  after it cleared.
- **acknowledge**: raised -> acknowledged; cleared -> closed.

Everything here is synchronous and in memory, so a pipeline stage can call it per reading; the
stage persists the transitions (``drain``) in a task of its own. Transition timestamps of one
alarm are strictly increasing by at least ``unit_ns`` (the sink's precision), so that two
transitions never land on one InfluxDB point.
"""

from __future__ import annotations

from collections.abc import Iterable

from collector.alarms.model import ACTIVE, Alarm, Signal, State, Transition
from config.alarm_settings import AlarmSettings

S = 1_000_000_000


class Lifecycle:
    def __init__(self, settings: AlarmSettings, open_alarms: Iterable[Alarm] = (),
                 next_id: int = 1, unit_ns: int = 1) -> None:
        self.hold_ns = int(settings.hold_s * S)
        self.close_after_ns = int(settings.close_after_s * S)
        self.flap_count = settings.flap_count
        self.flap_window_ns = int(settings.flap_window_s * S)
        self.unit_ns = max(1, unit_ns)
        self.next_id = next_id
        self.open: dict[tuple[str, str], Alarm] = {}
        self.by_id: dict[int, Alarm] = {}
        # device -> its open alarms; detectors ask ``device in lc.by_device`` on their
        # per-reading paths: has_open without the call
        self.by_device: dict[str, dict[str, Alarm]] = {}
        self._waiting: dict[int, Alarm] = {}  # a clear pending its hold, or cleared: timed
        self._out: list[Transition] = []
        for a in open_alarms:
            self._add(a)
            if a.ended_ns is not None:
                self._waiting[a.id] = a
            self.next_id = max(self.next_id, a.id + 1)

    # -- what detectors ask before they build a signal (called per reading: cheap) ----------
    def needs(self, device: str, alarm_id: str, on: bool) -> bool:
        """Whether a signal would change anything."""
        a = self.open.get((device, alarm_id))
        if on:
            return a is None or a.state is State.CLEARED or a.ended_ns is not None
        return a is not None and a.state in ACTIVE and a.ended_ns is None

    def has_open(self, device: str) -> bool:
        """Whether the device has any open alarm: most readings need no "off" signal then."""
        return device in self.by_device

    def open_ids(self, device: str) -> list[str]:
        return list(self.by_device.get(device, ()))

    def is_active(self, device: str, alarm_id: str) -> bool:
        a = self.open.get((device, alarm_id))
        return a is not None and a.state in ACTIVE

    # -- inputs ---------------------------------------------------------------------------
    def signal(self, s: Signal) -> None:
        a = self.open.get((s.device, s.alarm.id))
        if not s.on:
            if a is not None and a.state in ACTIVE and a.ended_ns is None and \
                    s.ts_ns >= a.last_raised_ns:  # older than the raise: ends nothing
                a.ended_ns = s.ts_ns
                self._waiting[a.id] = a
            return
        if a is None:
            a = Alarm(self.next_id, s.plant, s.device, s.village, s.alarm, State.RAISED,
                      s.ts_ns, s.ts_ns, s.value, s.detail, recent_raises=[s.ts_ns])
            self.next_id += 1
            self._add(a)
            self._emit(a, State.RAISED, s.ts_ns)
        elif a.state in ACTIVE:
            if a.ended_ns is not None:  # back before its hold ran out: still the same episode
                a.ended_ns = None
                self._waiting.pop(a.id, None)
            a.value, a.detail = s.value, s.detail
        else:  # cleared, and back before it closed
            was_flapping = a.flapping
            a.state, a.ended_ns = State.RAISED, None
            self._waiting.pop(a.id, None)
            a.last_raised_ns = s.ts_ns
            a.raises += 1
            a.value, a.detail = s.value, s.detail
            a.recent_raises = [t for t in a.recent_raises
                               if s.ts_ns - t < self.flap_window_ns] + [s.ts_ns]
            if len(a.recent_raises) >= self.flap_count:
                a.flapping = True
            # the raise that makes it flapping still notifies (saying so); later ones do not
            self._emit(a, State.RAISED, s.ts_ns, notify=not was_flapping)

    def tick(self, now_ns: int) -> None:
        """Clear alarms whose hold ran out; close cleared ones whose time is up."""
        for a in list(self._waiting.values()):
            assert a.ended_ns is not None
            if a.state in ACTIVE:
                hold = self.flap_window_ns if a.flapping else self.hold_ns
                if now_ns - a.ended_ns >= hold:
                    a.state = State.CLEARED
                    self._emit(a, State.CLEARED, a.ended_ns)
                    if a.acked_ns is not None:
                        self._close(a, a.last_ts_ns)
            elif a.state is State.CLEARED and (a.acked_ns is not None or
                                               now_ns - a.ended_ns >= self.close_after_ns):
                self._close(a, now_ns)  # acknowledged while no collector ran, or time is up

    def acknowledge(self, alarm_id: int, ts_ns: int, by: str, note: str | None,
                    recorded: Transition | None = None) -> bool:
        """Take an acknowledgement; False when the alarm is not open (closed meanwhile).

        ``recorded``: the acknowledgement as already stored (by the CLI): it is passed on to
        be published, not stored again.
        """
        a = self.by_id.get(alarm_id)
        if a is None or a.acked_ns is not None:
            return False
        a.acked_ns, a.acked_by, a.ack_note = ts_ns, by, note
        if a.state in ACTIVE:
            a.state = State.ACKNOWLEDGED
        self._emit(a, State.ACKNOWLEDGED, ts_ns, actor=by, note=note,
                   origin="cli" if recorded else "collector",
                   db_id=recorded.db_id if recorded else None)
        if a.state is State.CLEARED:
            self._close(a, a.last_ts_ns)
        return True

    def pending(self) -> bool:
        """Whether there are transitions to drain (most readings make none)."""
        return bool(self._out)

    def drain(self) -> list[Transition]:
        out, self._out = self._out, []
        return out

    # -- inside ---------------------------------------------------------------------------
    def _add(self, a: Alarm) -> None:
        self.open[a.key] = a
        self.by_id[a.id] = a
        self.by_device.setdefault(a.device, {})[a.definition.id] = a

    def _close(self, a: Alarm, ts_ns: int) -> None:
        a.state = State.CLOSED
        self._emit(a, State.CLOSED, ts_ns)
        self._waiting.pop(a.id, None)
        del self.open[a.key]
        del self.by_id[a.id]
        devs = self.by_device[a.device]
        del devs[a.definition.id]
        if not devs:
            del self.by_device[a.device]

    def _emit(self, a: Alarm, state: State, ts_ns: int, *, notify: bool = True,
              actor: str | None = None, note: str | None = None, origin: str = "collector",
              db_id: int | None = None) -> None:
        ts = max(ts_ns, a.last_ts_ns + self.unit_ns) if a.last_ts_ns else ts_ns
        a.last_ts_ns = ts
        if state is State.CLOSED:
            a.closed_ns = ts
        self._out.append(Transition(a.snapshot(), state, ts, actor, note, origin, notify, db_id))
