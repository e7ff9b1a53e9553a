"""Readings become line protocol that InfluxDB stores exactly; bad values never as numbers."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from collector.reading import Quality, Reading
from influx import lineprotocol as lp
from influx.lineprotocol import _general_line, encode, reading_to_line
from localsite.servers import InfluxServer

TS = 1_592_712_000_123_456_789


def reading(**kw: object) -> Reading:
    base: dict = dict(kind="inverter", plant="p 1", device="inv,1", ts_ns=TS,
                      fields={"p_ac_w": 1500.5}, village="v=1")
    base.update(kw)
    return Reading(**base)


def test_tags_are_escaped_and_precision_applied() -> None:
    line = reading_to_line(reading(), precision="ms")
    assert line == r"inverter,plant=p\ 1,device=inv\,1,village=v\=1 p_ac_w=1500.5 1592712000123"


def test_not_implemented_and_invalid_are_quality_strings_not_numbers() -> None:
    r = reading(fields={"p_ac_w": None, "e_total_kwh": 5.0, "t_internal_c": 9999.0},
                quality={"p_ac_w": Quality.NOT_IMPLEMENTED, "t_internal_c": Quality.INVALID})
    line = reading_to_line(r)
    assert line is not None
    fields = line.rsplit(" ", 2)[1]  # the field set sits between tags and timestamp
    assert 'q_p_ac_w="not_implemented"' in fields
    assert 'q_t_internal_c="invalid"' in fields
    assert "e_total_kwh=5.0" in fields
    assert "t_internal_c=" not in fields.replace("q_t_internal_c", "")
    assert "p_ac_w=" not in fields.replace("q_p_ac_w", "")


def test_status_and_faults_are_strings_and_empty_readings_are_dropped() -> None:
    r = reading(fields={}, status='fault "x"', faults=(2062, 2063))
    line = reading_to_line(r)
    assert line is not None and r'status="fault \"x\""' in line and 'faults="2062,2063"' in line
    assert reading_to_line(reading(fields={"p_ac_w": float("nan")})) is None
    # a device whose fault registers were read with nothing active: the field says so ("")
    cleared = reading_to_line(reading(fields={"p_ac_w": 1.0}, faults=()))
    assert cleared is not None and 'faults=""' in cleared
    assert "faults" not in (reading_to_line(reading(fields={"p_ac_w": 1.0})) or "")
    assert encode([reading(fields={})]) == b""


def written(r: Reading) -> str | None:
    """The line, as the first reading of its shape gets it (the general path) and as later ones
    do (the shape's compiled writer): the same text."""
    first = reading_to_line(r)
    assert reading_to_line(r) == first
    return first


def test_fast_path_matches_the_general_path() -> None:
    # All-good numeric readings use a compiled writer; "%" or quotes in tags or names must stay
    # literal, ints are written as floats, and a None, NaN or infinity falls back to the general
    # path.
    r = reading(device="inv%d", plant="%s", fields={"p%_w": 3, "e": 1e6, "ok": True,
                                                     "q'{x}\"y": 2.5})
    line = written(r)
    assert line == (rf"inverter,plant=%s,device=inv%d,village=v\=1 p%_w=3.0,e=1000000.0,ok=1.0,"
                    f"q'{{x}}\"y=2.5 {TS}")
    general = reading(device="inv%d", plant="%s", fields=dict(r.fields),
                      quality={"e": Quality.GOOD})  # a quality map: the general path
    assert written(general) == line
    mixed = [reading(fields={"a": 1.0, "b": v})
             for v in (2.5, 2.5, None, float("inf"), float("nan"))]
    assert encode(mixed, "s") == (
        b"inverter,plant=p\\ 1,device=inv\\,1,village=v\\=1 a=1.0,b=2.5 1592712000\n" * 2
        + b"inverter,plant=p\\ 1,device=inv\\,1,village=v\\=1 a=1.0 1592712000\n" * 3)
    same_tags_other_fields = encode([reading(fields={"a": 1.0}), reading(fields={"b": 2.0})])
    lines = same_tags_other_fields.decode().splitlines()
    assert [line.rsplit(" ", 2)[1] for line in lines] == ["a=1.0", "b=2.0"]


def test_influxdb_stores_what_we_encode(influxdb: InfluxServer, influx_db: str) -> None:
    rs = [reading(ts_ns=TS + i * 10**9, fields={"p_ac_w": float(i), "e_total_kwh": 1e6 + i},
                  status="running") for i in range(3)]
    with influxdb.client(influx_db) as client:
        client.write(encode(rs), precision="ns")
    [series] = influxdb.query("SELECT p_ac_w, e_total_kwh, status, device, plant FROM inverter",
                              influx_db)
    assert series["values"] == [
        [TS + i * 10**9, float(i), 1e6 + i, "running", "inv,1", "p 1"] for i in range(3)]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.floats(allow_nan=False, allow_infinity=False),
                          st.integers(-(2**53), 2**53)), min_size=1, max_size=8))
def test_cached_float_texts_write_what_repr_writes(values: list[float]) -> None:
    # the fast path keeps float texts by value; 0.0 and -0.0 (equal keys) and ints must still
    # come out as repr(float(v)), whichever was written first
    for first in (values, [-v for v in values], [0.0, -0.0, *values]):
        r = reading(fields={f"f{i}": v for i, v in enumerate(first)})
        assert written(r) == _general_line(r, 1)


def test_a_shape_gets_its_writer_when_seen_again_and_garbage_never_compiles_one() -> None:
    names = [f"g{i}" for i in range(6)]
    steady = reading(fields=dict.fromkeys(names, 1.5))
    lines = [reading_to_line(steady) for _ in range(3)]
    assert lines[0] == lines[1] == lines[2] == _general_line(steady, 1)
    assert lp._writers.get((tuple(names), (), False, False)) is not None
    # a device whose answers are garbage in a different field at every poll: each shape is
    # seen once and written by the general path, nothing is compiled for it
    compiled = len(lp._writers)
    for bad in names:
        r = reading(fields=dict.fromkeys(names, 1.5) | {bad: None},
                    quality={bad: Quality.INVALID})
        line = reading_to_line(r)
        assert line == _general_line(r, 1) and f'q_{bad}="invalid"' in line
    assert len(lp._writers) == compiled
