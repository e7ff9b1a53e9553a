"""The spool's files on disk, and a read-only look at them (``pvrelief spool status``).

Layout of ``spool_dir``::

    000000000007.seg   segment files, appended in order, never rewritten
    cursor             "SEG OFFSET": everything before it has been delivered
    lock               flock()ed by the one process that owns the spool

Each record is ``HEADER + body`` where HEADER is ``>4sIIIB``: magic ``PVS1``, CRC32, body
length, point count, precision code; the CRC covers length, count, precision and body.
Everything here only reads, so it is safe while a collector owns the spool.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

MAGIC = b"PVS1"
HEADER = struct.Struct(">4sIIIB")
_CRC_PART = struct.Struct(">IIB")  # length, count, precision: covered by the CRC
PRECISIONS = ("ns", "u", "ms", "s")
MAX_RECORD = 256 * 1024 * 1024

Pos = tuple[int, int]  # (segment number, byte offset)

# Spooled readings are the site's data and may name people's villages: only the collector's
# own user may read them (files 0600 in a 0700 folder), whatever the process umask.
PRIVATE_FILE = 0o600
PRIVATE_DIR = 0o700


def private_dir(path: Path) -> None:
    """Create ``path`` (and parents) if needed, and make it the owner's alone."""
    path.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR)
    if path.stat().st_mode & 0o777 != PRIVATE_DIR:
        os.chmod(path, PRIVATE_DIR)


def open_private(path: Path, flags: int) -> int:
    """os.open with O_CREAT, mode 0600; an existing file is tightened to 0600 too."""
    fd = os.open(path, flags | os.O_CREAT, PRIVATE_FILE)
    try:
        if os.fstat(fd).st_mode & 0o777 != PRIVATE_FILE:
            os.fchmod(fd, PRIVATE_FILE)
    except OSError:
        os.close(fd)
        raise
    return fd


@dataclass(frozen=True, slots=True)
class Record:
    pos: Pos
    end: Pos
    count: int
    precision: str
    body: bytes


def encode_record(body: bytes, count: int, precision: str) -> bytes:
    code = PRECISIONS.index(precision)
    crc = zlib.crc32(body, zlib.crc32(_CRC_PART.pack(len(body), count, code)))
    return HEADER.pack(MAGIC, crc, len(body), count, code) + body


def segment_name(seq: int) -> str:
    return f"{seq:012d}.seg"


def list_segments(directory: Path) -> Iterator[int]:
    for p in directory.glob("*.seg"):
        with contextlib.suppress(ValueError):
            yield int(p.stem)


def read_cursor(directory: Path) -> Pos:
    try:
        seq, off = (directory / "cursor").read_text().split()
        return int(seq), int(off)
    except (OSError, ValueError):
        return (0, 0)


def _read_record(fd: int, seq: int, off: int, size: int) -> tuple[Record | None, int]:
    """(record at or after ``off``, bytes skipped to find it); (None, n) if none is left."""
    start = off
    while off + HEADER.size <= size:
        head = os.pread(fd, HEADER.size, off)
        magic, crc, length, count, code = HEADER.unpack(head)
        if magic == MAGIC and code < len(PRECISIONS) and off + HEADER.size + length <= size:
            body = os.pread(fd, length, off + HEADER.size)
            if zlib.crc32(body, zlib.crc32(_CRC_PART.pack(length, count, code))) == crc:
                end = (seq, off + HEADER.size + length)
                return Record((seq, off), end, count, PRECISIONS[code], body), off - start
        off = _find_magic(fd, off + 1, size)
    return None, size - start


def _find_magic(fd: int, off: int, size: int) -> int:
    chunk = 1 << 20
    while off < size:
        data = os.pread(fd, min(chunk, size - off) + len(MAGIC) - 1, off)
        i = data.find(MAGIC)
        if i >= 0:
            return off + i
        off += chunk
    return size


def iter_records(path: Path, start: int = 0) -> Iterator[Record]:
    """Every valid record of one segment file from ``start`` (damage is skipped)."""
    seq = int(path.stem)
    fd = os.open(path, os.O_RDONLY)
    try:
        size = os.fstat(fd).st_size
        off = start
        while True:
            rec, _ = _read_record(fd, seq, off, size)
            if rec is None:
                return
            yield rec
            off = rec.end[1]
    finally:
        os.close(fd)


def count_points(path: Path, start: int = 0) -> int:
    return sum(r.count for r in iter_records(path, start))


def backlog_bytes(sizes: dict[int, int], cursor: Pos) -> int:
    """Bytes at or after ``cursor`` in segments of the given sizes: not yet delivered."""
    seq, off = cursor
    return max(0, sum(size for s, size in sizes.items() if s >= seq) - (off if seq in sizes
                                                                           else 0))


def in_use(directory: Path) -> bool:
    """Whether a process holds the spool's lock (a running collector)."""
    lock = directory / "lock"
    if not lock.exists():
        return False
    fd = os.open(lock, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)  # refused while someone holds LOCK_EX
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    except BlockingIOError:
        return True
    finally:
        os.close(fd)


@dataclass(frozen=True, slots=True)
class SpoolStatus:
    directory: Path
    exists: bool
    in_use: bool
    segments: int
    bytes_on_disk: int
    cursor: Pos
    undelivered_points: int
    undelivered_bytes: int


def inspect(directory: Path) -> SpoolStatus:
    """What the spool holds, read without taking its lock."""
    if not directory.is_dir():
        return SpoolStatus(directory, False, False, 0, 0, (0, 0), 0, 0)
    sizes = {s: (directory / segment_name(s)).stat().st_size
             for s in sorted(list_segments(directory))}
    cursor = read_cursor(directory)
    seq, off = cursor
    points = sum(count_points(directory / segment_name(s), off if s == seq else 0)
                 for s in sizes if s >= seq)
    return SpoolStatus(directory, True, in_use(directory), len(sizes), sum(sizes.values()),
                       cursor, points, backlog_bytes(sizes, cursor))
