"""Which undelivered spool records waited for InfluxDB: the sink's spooled and replayed counts.

A record waited (its points count as spooled, and as replayed once written) if it was appended
while InfluxDB was failing, or was anywhere undelivered when a failure began: in a sender's
hands, queued in the spool or still in memory (the sink flushes memory when a failure begins).
Records of an earlier run waited through the restart. Whether a sender had tried a record
before the failure was noticed, or the outage ended before the linger flushed it, must not
matter: both once let readings accepted in an outage count as neither spooled nor replayed.
"""

from __future__ import annotations

from collector.sinks.spool import Pos


class Waits:
    def __init__(self) -> None:
        # both ordered by position, as records are appended: pruned from the front
        self._fresh: dict[Pos, int] = {}  # appended while InfluxDB took writes: pos -> points
        self._waited: dict[Pos, None] = {}
        self._start: Pos = (0, 0)  # records before it are from an earlier run

    def started(self, write_pos: Pos) -> None:
        self._start = write_pos

    def appended(self, pos: Pos, points: int, down: bool) -> int:
        """A record reached the spool; the points that now count as spooled."""
        if down:
            self._waited[pos] = None
            return points
        self._fresh[pos] = points
        return 0

    def failure_began(self) -> int:
        """Every record not yet delivered waits from now on; the points newly counted."""
        points = sum(self._fresh.values())
        self._waited.update(dict.fromkeys(self._fresh))  # all of them after the waited ones
        self._fresh.clear()
        return points

    def delivered(self, pos: Pos) -> bool:
        """The record is written; whether it had waited (its points count as replayed)."""
        self._fresh.pop(pos, None)
        if pos in self._waited:
            del self._waited[pos]
            return True
        return pos < self._start

    def forget_before(self, committed: Pos) -> None:
        """Forget records the spool passed without their delivery: skipped as damaged or
        dropped over the cap. A dropped record a sender already holds is forgotten too; it is
        then written without counting as replayed, so replayed stays <= spooled."""
        for records in (self._fresh, self._waited):
            while records and (first := next(iter(records))) < committed:
                del records[first]

    def __len__(self) -> int:
        return len(self._fresh) + len(self._waited)
