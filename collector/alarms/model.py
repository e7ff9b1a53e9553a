"""What an alarm is: its definition, the signals detectors send, its record and transitions.

A detector never raises an alarm itself: it sends a ``Signal`` (the condition is on, or it is
off) for a (device, alarm id), and the lifecycle (lifecycle.py) decides what that changes:

    raised --ack--> acknowledged --condition gone for hold_s--> cleared --> closed
       \\--condition gone for hold_s--> cleared --ack, or close_after_s--> closed

A cleared alarm whose condition comes back before it closes is raised again (same alarm, one
more raise; enough raises in a window make it "flapping"). After it closes, the next raise is a
new alarm with a new id.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

SEVERITY_RANK = {"major": 1, "minor": 2, "warning": 3}


class State(StrEnum):
    RAISED = "raised"  # the condition is on; nobody has taken it yet
    ACKNOWLEDGED = "acknowledged"  # the condition is on; someone took it (who, a note)
    CLEARED = "cleared"  # the condition ended (and stayed away for hold_s); may come back
    CLOSED = "closed"  # over: acknowledged and cleared, or cleared for close_after_s


ACTIVE = (State.RAISED, State.ACKNOWLEDGED)


@dataclass(frozen=True, slots=True)
class AlarmDef:
    """One kind of alarm a device can have: ``id`` is unique per device."""

    id: str  # "code-2064", "comm-loss", "temperature-high", "string-2-low", ...
    kind: str  # device_code | comm_loss | threshold | performance | data_quality
    severity: str  # major | minor | warning
    name: str
    name_zh: str
    action: str = ""
    action_zh: str = ""
    code: int | None = None  # the vendor code, for device codes

    def title(self, lang: str) -> str:
        return self.name_zh if lang == "zh" else self.name

    def advice(self, lang: str) -> str:
        return (self.action_zh or self.action) if lang == "zh" else (self.action or
                                                                     self.action_zh)


@dataclass(frozen=True, slots=True)
class Signal:
    """A detector's finding: ``alarm``'s condition is on (or off) at ``device`` at ``ts_ns``."""

    plant: str
    device: str
    alarm: AlarmDef
    on: bool
    ts_ns: int
    village: str | None = None
    value: float | None = None  # what was measured: a temperature, a ratio, seconds silent
    detail: str = ""  # in English, for the record: "t_internal_c 78.2 above 75 for 600 s"


@dataclass(slots=True)
class Alarm:
    """One alarm occurrence, as the lifecycle keeps it (and the store persists it)."""

    id: int
    plant: str
    device: str
    village: str | None
    definition: AlarmDef
    state: State
    raised_ns: int  # first raised
    last_raised_ns: int  # raised again after a clear: this one
    value: float | None = None
    detail: str = ""
    raises: int = 1
    flapping: bool = False
    # while active: when the condition went away (a clear pending its hold); when cleared: when
    ended_ns: int | None = None
    acked_ns: int | None = None
    acked_by: str | None = None
    ack_note: str | None = None
    closed_ns: int | None = None
    recent_raises: list[int] = field(default_factory=list)  # within flap_window_s
    last_ts_ns: int = 0  # of its last transition: the next one is stamped after it

    @property
    def key(self) -> tuple[str, str]:
        return (self.device, self.definition.id)

    def snapshot(self) -> Alarm:
        """A copy for a transition, unaffected by later changes to this record."""
        return Alarm(self.id, self.plant, self.device, self.village, self.definition,
                     self.state, self.raised_ns, self.last_raised_ns, self.value, self.detail,
                     self.raises, self.flapping, self.ended_ns, self.acked_ns, self.acked_by,
                     self.ack_note, self.closed_ns, [], self.last_ts_ns)


@dataclass(frozen=True, slots=True)
class Transition:
    """A state change of one alarm: persisted, written to the sinks, maybe notified."""

    alarm: Alarm  # a snapshot, taken right after the change
    state: State
    ts_ns: int
    actor: str | None = None
    note: str | None = None
    origin: str = "collector"  # or "cli": an acknowledgement made outside the collector
    notify: bool = True  # False for a flapping alarm's repeated raises
    db_id: int | None = None  # set once stored (an acknowledgement from the CLI already is)
