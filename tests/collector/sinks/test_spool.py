"""The on-disk spool: order, restart, damaged records (test c), the size cap, the lock."""

from __future__ import annotations

from pathlib import Path

import pytest

from collector.errors import SpoolError
from collector.sinks.spool import Spool
from collector.sinks.spool_files import HEADER, count_points

KB = 1024


def spool(path: Path, **kw: object) -> Spool:
    opts: dict = {"max_bytes": 1024 * KB, "segment_bytes": 64 * KB, "fsync": "never"} | kw
    return Spool(path, **opts).open()


def body(i: int, n: int = 3) -> bytes:
    return b"".join(b"m,device=d%d f=%d %d\n" % (j, i, i) for j in range(n))


def drain(s: Spool) -> list[bytes]:
    out = []
    while (rec := s.next_record()) is not None:
        out.append(rec.body)
        s.ack(rec)
    return out


def test_records_come_back_in_order_and_survive_a_restart(tmp_path: Path) -> None:
    s = spool(tmp_path, fsync="always")
    for i in range(10):
        s.append(body(i), 3, "ms")
    first = s.next_record()
    assert first is not None and first.body == body(0) and first.count == 3
    s.ack(first)
    s.close()  # records 1..9 are undelivered

    s = spool(tmp_path)
    assert drain(s) == [body(i) for i in range(1, 10)]
    assert s.caught_up and s.backlog_bytes == 0
    s.close()
    s = spool(tmp_path)
    assert s.next_record() is None  # nothing is replayed twice after a clean cursor save
    s.close()


def test_unacked_records_in_flight_are_replayed_after_restart(tmp_path: Path) -> None:
    s = spool(tmp_path)
    for i in range(3):
        s.append(body(i), 3, "ms")
    a, b = s.next_record(), s.next_record()
    assert a is not None and b is not None
    s.ack(b)  # out of order: the cursor must stay before `a`
    s.close()
    s = spool(tmp_path)
    assert drain(s) == [body(0), body(1), body(2)]
    s.close()


def test_truncated_tail_record_is_skipped_not_fatal(tmp_path: Path) -> None:
    s = spool(tmp_path)
    for i in range(5):
        s.append(body(i), 3, "ms")
    s.close()
    seg = sorted(tmp_path.glob("*.seg"))[0]
    data = seg.read_bytes()
    seg.write_bytes(data[:-7])  # a power cut in the middle of the last record

    corrupt: list[int] = []
    s = spool(tmp_path, on_corrupt=corrupt.append)
    s.append(body(99), 3, "ms")  # appends go to a fresh segment, never after the damage
    assert drain(s) == [body(i) for i in range(4)] + [body(99)]
    assert corrupt and s.corrupt_bytes == len(data) - 7 - 4 * (HEADER.size + len(body(0)))
    s.close()


def test_truncated_inside_the_header_and_a_corrupt_middle_record(tmp_path: Path) -> None:
    s = spool(tmp_path)
    for i in range(4):
        s.append(body(i), 3, "ms")
    s.close()
    seg = sorted(tmp_path.glob("*.seg"))[0]
    data = bytearray(seg.read_bytes())
    rec = HEADER.size + len(body(0))
    data[rec + HEADER.size + 2] ^= 0xFF  # flip a byte in record 1's body: CRC mismatch
    data += b"PVS1\x00\x01"  # a torn header at the tail
    seg.write_bytes(bytes(data))
    s = spool(tmp_path)
    assert drain(s) == [body(0), body(2), body(3)]
    assert s.corrupt_bytes == rec + 6
    s.close()


def test_over_the_cap_the_oldest_segment_is_dropped_and_counted(tmp_path: Path) -> None:
    drops: list[tuple[int, int]] = []
    s = spool(tmp_path, max_bytes=256 * KB, segment_bytes=64 * KB,
              on_drop=lambda p, b: drops.append((p, b)))
    big = body(0, n=400)  # about 8 KB per record
    for _ in range(60):
        s.append(big, 400, "ms")
    assert s.total_bytes <= 256 * KB + 64 * KB
    assert drops and s.dropped_points == sum(p for p, _ in drops) > 0
    kept = sum(count_points(p) for p in tmp_path.glob("*.seg"))
    assert kept + s.dropped_points == 60 * 400  # every point is either kept or counted
    assert len(drain(s)) * 400 == kept
    s.close()


def test_a_second_process_cannot_open_the_same_spool(tmp_path: Path) -> None:
    s = spool(tmp_path)
    with pytest.raises(SpoolError, match="in use"):
        Spool(tmp_path, max_bytes=1024 * KB, segment_bytes=64 * KB).open()
    s.close()
