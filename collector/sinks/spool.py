"""An append-only, checksummed, segmented log of line-protocol batches on disk.

The files and the record format are in ``spool_files.py``. A record that is short (a power cut
mid-write) or fails its CRC is skipped: the reader searches forward for the next valid record,
counts the damage and goes on. It is never fatal.

A process always appends to a fresh segment, so a damaged tail left by a crash is only ever
read, never appended to. Records are written with one ``os.write`` each (no user-space buffer),
so a SIGKILL loses nothing already appended; a power cut can lose what was not yet fsynced.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Literal

from collector.errors import SpoolError
from collector.sinks.spool_files import (
    MAX_RECORD,
    Pos,
    Record,
    _read_record,
    backlog_bytes,
    count_points,
    encode_record,
    list_segments,
    open_private,
    private_dir,
    read_cursor,
    segment_name,
)

log = logging.getLogger(__name__)

CURSOR_SAVE_EVERY_S = 0.5  # replaying a few delivered records again is harmless (see README)

FsyncPolicy = Literal["always", "interval", "never"]


class SpoolWrittenError(SpoolError):
    """The record is in the spool, but a later step (fsync, rollover, cap) failed."""

    def __init__(self, pos: Pos, message: str) -> None:
        super().__init__(message)
        self.pos = pos


class Spool:
    def __init__(
        self,
        directory: Path,
        *,
        max_bytes: int,
        segment_bytes: int,
        fsync: FsyncPolicy = "interval",
        fsync_interval_s: float = 1.0,
        on_drop: Callable[[int, int], None] | None = None,
        on_corrupt: Callable[[int], None] | None = None,
    ) -> None:
        self.dir = Path(directory)
        self.max_bytes = max_bytes
        self.segment_bytes = segment_bytes
        self.fsync_policy = fsync
        self.fsync_interval_s = fsync_interval_s
        self._on_drop = on_drop or (lambda points, nbytes: None)
        self._on_corrupt = on_corrupt or (lambda nbytes: None)
        self._sizes: dict[int, int] = {}  # segment -> bytes, in order
        self._active = -1
        self._wfd = -1
        self._rfd: tuple[int, int] | None = None  # (segment, fd) being read
        self._read: Pos = (0, 0)
        self._outstanding: dict[Pos, Record | None] = {}  # read, not acked; None once acked
        self._saved: Pos = (-1, -1)
        self._saved_at = 0.0
        self._synced_at = 0.0
        self._dirty = False
        self._lock_fd = -1
        self.dropped_points = 0
        self.corrupt_bytes = 0

    # ---- lifecycle -------------------------------------------------------------------------
    def open(self) -> Spool:
        private_dir(self.dir)
        self._lock_fd = open_private(self.dir / "lock", os.O_RDWR)
        try:
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self._lock_fd)
            self._lock_fd = -1
            raise SpoolError(f"spool {self.dir} is in use by another process") from None
        for seq in sorted(list_segments(self.dir)):
            self._sizes[seq] = (self.dir / segment_name(seq)).stat().st_size
        self._read = read_cursor(self.dir)
        first = next(iter(self._sizes), None)
        if first is None or self._read[0] < first:
            self._read = (first if first is not None else 0, 0)
        self._saved = self._read
        self._new_segment(max(self._sizes, default=0) + 1)
        self._collect()
        return self

    def close(self) -> None:
        """Sync, close, save the cursor, unlock: each step runs even if an earlier one raised
        (the first error is raised at the end)."""
        try:
            try:
                if self._wfd >= 0:
                    self.sync()
            finally:
                try:
                    if self._wfd >= 0:
                        os.close(self._wfd)
                finally:
                    self._wfd = -1
                    try:
                        self._close_reader()
                    finally:
                        self.save_cursor(force=True)
        finally:
            if self._lock_fd >= 0:
                os.close(self._lock_fd)
                self._lock_fd = -1

    # ---- writing ---------------------------------------------------------------------------
    def append(self, body: bytes, count: int, precision: str) -> Pos:
        data = encode_record(body, count, precision)
        if len(data) > MAX_RECORD:
            raise SpoolError(f"record of {len(data)} bytes is larger than {MAX_RECORD}")
        if self._wfd < 0:  # an earlier rollover or write failed: start a fresh segment
            try:
                self._new_segment(self._active + 1)
            except OSError as e:
                raise SpoolError(f"spool {self.dir}: cannot open a new segment: {e}") from e
        pos = (self._active, self._sizes[self._active])
        view = memoryview(data)
        done = 0
        try:
            while view:
                n = os.write(self._wfd, view)
                view = view[n:]
                done += n
        except OSError:
            # A torn record may be at the end of this segment: account for its bytes (the
            # reader skips the damage) and never append behind it.
            self._sizes[self._active] += done
            self._dirty = True
            self._close_writer()
            raise
        self._sizes[self._active] += len(data)
        self._dirty = True
        try:
            if self.fsync_policy == "always":
                self.sync()
            elif self.fsync_policy == "interval":
                self.maybe_sync()
            if self._sizes[self._active] >= self.segment_bytes:
                self._new_segment(self._active + 1)
            self._enforce_cap()
        except OSError as e:
            raise SpoolWrittenError(pos, f"spool {self.dir}: record appended, then {e}") from e
        return pos

    def maybe_sync(self) -> None:
        due = time.monotonic() - self._synced_at >= self.fsync_interval_s
        if self.fsync_policy == "interval" and self._dirty and due:
            self.sync()

    def sync(self) -> None:
        if self.fsync_policy != "never" and self._dirty and self._wfd >= 0:
            os.fsync(self._wfd)
        self._dirty = False
        self._synced_at = time.monotonic()

    def _close_writer(self) -> None:
        fd, self._wfd = self._wfd, -1  # never keep a closed fd number: the OS reuses it
        if fd >= 0:
            with contextlib.suppress(OSError):
                os.close(fd)

    def _new_segment(self, seq: int) -> None:
        if self._wfd >= 0:
            try:
                self.sync()
            finally:
                self._close_writer()
        path = self.dir / segment_name(seq)
        self._wfd = open_private(path, os.O_WRONLY | os.O_APPEND)
        self._sizes[seq] = os.fstat(self._wfd).st_size
        self._active = seq
        if self.fsync_policy != "never":
            _fsync_dir(self.dir)

    def _enforce_cap(self) -> None:
        """Drop whole segments, oldest first, while the spool is over its cap."""
        while self.total_bytes > self.max_bytes and len(self._sizes) > 1:
            seq = next(iter(self._sizes))
            if seq == self._active:
                break
            start = self._read[1] if self._read[0] == seq else 0
            points = 0 if self._read[0] > seq else count_points(self.dir / segment_name(seq), start)
            nbytes = self._sizes.pop(seq)
            if self._rfd is not None and self._rfd[0] == seq:
                self._close_reader()
            _unlink(self.dir / segment_name(seq))
            if self._read[0] <= seq:
                self._read = (next(iter(self._sizes)), 0)
            # Records of it already in flight stay with the sender; their ack is ignored.
            for pos in [p for p in self._outstanding if p[0] == seq]:
                del self._outstanding[pos]
            self.dropped_points += points
            log.error(
                "spool %s over its cap of %d bytes: dropped the oldest segment %d "
                "(%d bytes, %d undelivered points)", self.dir, self.max_bytes, seq, nbytes, points
            )
            self._on_drop(points, nbytes)

    # ---- reading ---------------------------------------------------------------------------
    def next_record(self) -> Record | None:
        """The next undelivered record in order, or None when the reader has caught up."""
        while True:
            seq, off = self._read
            size = self._sizes.get(seq)
            if size is None:  # dropped or never existed: go to the next segment we have
                later = [s for s in self._sizes if s > seq]
                if not later:
                    return None
                self._read = (later[0], 0)
                continue
            if off >= size:
                if seq == self._active:
                    return None
                self._read = (seq + 1, 0)
                self._collect()
                continue
            fd = self._reader(seq)
            rec, skipped = _read_record(fd, seq, off, size)
            if skipped:
                self.corrupt_bytes += skipped
                log.warning("spool %s: skipped %d damaged bytes in segment %d at offset %d",
                            self.dir, skipped, seq, off)
                self._on_corrupt(skipped)
            if rec is None:
                self._read = (seq, size)
                continue
            self._read = rec.end
            self._outstanding[rec.pos] = rec
            return rec

    def ack(self, rec: Record) -> None:
        """The record is in InfluxDB: move the cursor over every delivered prefix."""
        # Not outstanding: its segment was dropped while it was in flight, or this is a retry
        # after save_cursor failed. Either way collecting and saving again is what is left.
        if rec.pos in self._outstanding:
            self._outstanding[rec.pos] = None
            for pos in list(self._outstanding):
                if self._outstanding[pos] is not None:
                    break
                del self._outstanding[pos]
        self._collect()
        self.save_cursor()

    @property
    def committed(self) -> Pos:
        """Everything before this position has been delivered."""
        return next(iter(self._outstanding), self._read)

    def _collect(self) -> None:
        """Delete segments entirely before the committed position."""
        done = self.committed[0]
        for seq in [s for s in self._sizes if s < done and s != self._active]:
            del self._sizes[seq]
            if self._rfd is not None and self._rfd[0] == seq:
                self._close_reader()
            _unlink(self.dir / segment_name(seq))

    def save_cursor(self, force: bool = False) -> None:
        pos = self.committed
        now = time.monotonic()
        if pos == self._saved or (not force and now - self._saved_at < CURSOR_SAVE_EVERY_S):
            return
        tmp = self.dir / "cursor.tmp"
        fd = open_private(tmp, os.O_WRONLY | os.O_TRUNC)
        try:
            os.write(fd, f"{pos[0]} {pos[1]}\n".encode())
        finally:
            os.close(fd)
        os.replace(tmp, self.dir / "cursor")
        self._saved, self._saved_at = pos, now

    def _reader(self, seq: int) -> int:
        if self._rfd is None or self._rfd[0] != seq:
            self._close_reader()
            self._rfd = (seq, os.open(self.dir / segment_name(seq), os.O_RDONLY))
        return self._rfd[1]

    def _close_reader(self) -> None:
        if self._rfd is not None:
            os.close(self._rfd[1])
            self._rfd = None

    def drop_all(self) -> int:
        """Delete every undelivered record (the operator's `pvrelief spool drop`)."""
        points = self.pending_points()
        self._close_reader()
        for seq in [s for s in self._sizes if s != self._active]:
            del self._sizes[seq]
            _unlink(self.dir / segment_name(seq))
        self._outstanding.clear()
        self._read = (self._active, self._sizes[self._active])
        self.save_cursor(force=True)
        return points

    def pending_points(self) -> int:
        seq, off = self.committed
        return sum(count_points(self.dir / segment_name(s), off if s == seq else 0)
                   for s in self._sizes if s >= seq)

    # ---- state -----------------------------------------------------------------------------
    @property
    def write_pos(self) -> Pos:
        """Where the next record will be appended."""
        return (self._active, self._sizes[self._active])

    @property
    def total_bytes(self) -> int:
        return sum(self._sizes.values())

    @property
    def backlog_bytes(self) -> int:
        return backlog_bytes(self._sizes, self.committed)

    @property
    def caught_up(self) -> bool:
        """Nothing left to read and nothing in flight."""
        return not self._outstanding and self.next_is_end()

    def next_is_end(self) -> bool:
        seq, off = self._read
        return all(s < seq for s in self._sizes if s != seq) and off >= self._sizes.get(seq, 0)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _unlink(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
