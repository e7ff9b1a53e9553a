"""Escaping per the line protocol spec, the generic builder, and what a real InfluxDB stores."""

from __future__ import annotations

import pytest

from collector.reading import Quality, Reading
from influx import lineprotocol as lp
from influx.errors import LineProtocolError
from influx.influxql import quote_ident
from localsite.servers import InfluxServer

AWKWARD = r"a\b,c d=e"  # backslash, comma, space and equals sign in one value


def test_escapes_follow_the_spec() -> None:
    assert lp.measurement("my meas,x=1") == r"my\ meas\,x=1"  # "=" is plain in a measurement
    assert lp.tag_key("k ey,=") == r"k\ ey\,\="
    assert lp.tag_value(AWKWARD) == r"a\b\,c\ d\=e"  # the backslash is not escaped
    assert lp.field_key("f=1 x") == r"f\=1\ x"
    assert lp.string_value('say "hi" \\o/') == r'"say \"hi\" \\o/"'


@pytest.mark.parametrize("value", ["a\\", "a\\\\b", "a\\,b", "a\\ b", "a\\=b", "", "a\nb",
                                   "a\rb"])
def test_values_servers_would_store_differently_are_refused(value: str) -> None:
    for escape in (lp.measurement, lp.tag_key, lp.tag_value, lp.field_key):
        with pytest.raises(LineProtocolError):
            escape(value)


def test_field_values_by_type() -> None:
    fields = {"i": 123, "neg": -(2**63), "f": 1.5, "whole": 3.0, "t": True, "s": 'x"y'}
    assert lp.line("m", {"t": "1"}, fields, 42) == (
        r'm,t=1 i=123i,neg=-9223372036854775808i,f=1.5,whole=3.0,t=true,s="x\"y" 42')
    assert lp.line("m", {}, {"v": 1.0}) == "m v=1.0"
    for bad in (2**63, float("nan"), float("inf"), None, b"x"):
        with pytest.raises(LineProtocolError):
            lp.line("m", {}, {"v": bad})  # type: ignore[dict-item]
    with pytest.raises(LineProtocolError, match="at least one field"):
        lp.line("m", {"t": "1"}, {})
    assert lp.body(["a v=1", "b v=2"]) == b"a v=1\nb v=2\n"
    assert lp.body([]) == b""


def test_readings_with_status_and_faults_take_the_fast_path_with_the_same_text() -> None:
    def reading(**kw: object) -> Reading:
        base: dict = dict(kind="inverter", plant="p 1", device="inv%s", ts_ns=1_000_000_123,
                          fields={"p_ac_w": 5.0, "e%d": 2}, village="v=1")
        return Reading(**(base | kw))

    for status, faults in (("run \"x\"", None), (None, ()), ("fault", (2062, 2063))):
        fast = lp.reading_to_line(reading(status=status, faults=faults), "ms")
        # a quality map (all good) sends the same reading down the general path
        general = lp.reading_to_line(reading(status=status, faults=faults,
                                             quality={"p_ac_w": Quality.GOOD}), "ms")
        assert fast == general
    assert lp.reading_to_line(reading(status="fault", faults=(2062, 2063))) == (
        r'inverter,plant=p\ 1,device=inv%s,village=v\=1 p_ac_w=5.0,e%d=2.0,status="fault",'
        r'faults="2062,2063" 1000000123')


def test_a_reading_that_cannot_be_written_is_logged_and_the_rest_are_kept(
        caplog: pytest.LogCaptureFixture) -> None:
    good = Reading("inverter", "p1", "ok", 1, {"p_ac_w": 1.0})
    bad = Reading("inverter", "p1", "bad\\", 2, {"p_ac_w": 1.0})
    assert lp.encode([good, bad, good]) == b"inverter,plant=p1,device=ok p_ac_w=1.0 1\n" * 2
    assert "device 'bad\\\\'" in caplog.text and "backslash" in caplog.text


def test_awkward_names_round_trip_through_influxdb(influxdb: InfluxServer,
                                                  influx_db: str) -> None:
    meas = "m " + AWKWARD
    line = lp.line(meas, {"k" + AWKWARD: AWKWARD}, {"f" + AWKWARD: 1, "s": 'q"\\'}, 1_000)
    with influxdb.client(influx_db) as client:
        client.write_lines([line], precision="ns")
        [series] = client.query(f"SELECT * FROM {quote_ident(meas)}")
        tags = client.query(f"SHOW TAG VALUES FROM {quote_ident(meas)} "
                            f"WITH KEY = {quote_ident('k' + AWKWARD)}")
    assert series["name"] == meas
    assert dict(zip(series["columns"], series["values"][0], strict=True)) == {
        "time": 1_000, "f" + AWKWARD: 1, "k" + AWKWARD: AWKWARD, "s": 'q"\\'}
    assert tags[0]["values"] == [["k" + AWKWARD, AWKWARD]]
