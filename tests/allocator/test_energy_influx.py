"""Meter energy from a real InfluxDB: midnights in Asia/Shanghai, resets, gaps, revenue points."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from allocator.energy import EnergyTable
from allocator.energy_influx import read_energy
from allocator.errors import EnergyError
from allocator.inputs import load_inputs
from allocator.model import Inputs
from allocator.periods import Period, parse_period
from allocator.pipeline import run
from config.influx import InfluxSettings
from localsite.servers import InfluxServer

EXAMPLE = Path(__file__).resolve().parents[2] / "config/examples/allocation-gonghe.yaml"
SHANGHAI = ZoneInfo("Asia/Shanghai")
HOURLY_KWH = {"gonghe-central": 1234.567, "village-a": 18.501, "village-b": 17.25}
METER = {"gonghe-central": "gc-meter", "village-a": "va-meter", "village-b": "vb-meter"}


def _ns(day: date, hour: int) -> int:
    """Local ``day`` + ``hour`` hours (hour 24 is the next midnight), as UTC nanoseconds."""
    start = datetime(day.year, day.month, day.day, tzinfo=SHANGHAI)
    return int((start + timedelta(hours=hour)).timestamp()) * 10**9


def _write(server: InfluxServer, db: str, lines: list[str]) -> None:
    with server.client(db) as client:
        client.write_lines(lines)


def _read_energy(server: InfluxServer, db: str, inputs: Inputs, period: Period) -> EnergyTable:
    with server.client(db) as client:
        return read_energy(client, inputs, period)


def _meter_lines(first: date, last: date, skip: set[date] = frozenset(),
                 reset_at: tuple[date, int] | None = None) -> tuple[list[str], dict]:
    """Hourly readings 01:00..24:00 local (a day's last reading is at its closing midnight);
    sun from 08:00 to 18:00. Returns lines and the expected Wh per (plant, day).
    """
    lines, expected = [], {}
    for plant, step in HOURLY_KWH.items():
        counter = 100_000.0
        day = first
        while day <= last:
            for hour in range(1, 25):
                if 8 < hour <= 18:
                    counter += step
                    if day not in skip:
                        key = (plant, day)
                        expected[key] = expected.get(key, 0) + round(step * 1000)
                if reset_at == (day, hour) and plant == "village-a":
                    counter = 0.0
                if day not in skip:
                    lines.append(f"meter,plant={plant},device={METER[plant]} "
                                 f"e_export_kwh={counter:.3f},e_import_kwh=0.5 {_ns(day, hour)}")
            day += timedelta(days=1)
    return lines, expected


def test_days_are_local_midnight_differences(influxdb: InfluxServer, influx_db: str) -> None:
    lines, expected = _meter_lines(date(2020, 5, 29), date(2020, 7, 2))
    _write(influxdb, influx_db, lines)
    inputs = load_inputs(EXAMPLE)
    period = parse_period("2020-06")
    table = _read_energy(influxdb, influx_db, inputs, period)
    for p, plant in enumerate(table.plant_ids):
        for d, day in enumerate(period.dates()):
            assert table.wh[p, d] == expected[(plant, day)]
    assert table.wh[table.plant_ids.index("village-a"), 0] == 10 * 18_501
    assert table.flags == ()


def test_a_reading_exactly_at_local_midnight_closes_the_previous_day(
        influxdb: InfluxServer, influx_db: str) -> None:
    lines, _ = _meter_lines(date(2020, 5, 29), date(2020, 7, 2))
    _write(influxdb, influx_db, lines)
    # village-b's counter is 5 kWh higher from the reading at exactly 2020-06-10 00:00
    # Asia/Shanghai (16:00 UTC the day before) onwards
    late = [line for line in lines if line.startswith("meter,plant=village-b,")
            and int(line.rsplit(" ", 1)[1]) >= _ns(date(2020, 6, 9), 24)]
    _write(influxdb, influx_db, [_plus(line, 5) for line in late])
    table = _read_energy(influxdb, influx_db, load_inputs(EXAMPLE), parse_period("2020-06"))
    b = table.wh[table.plant_ids.index("village-b")]
    assert b[8] == 10 * 17_250 + 5_000  # 2020-06-09 gets the midnight reading's increment
    assert b[9] == 10 * 17_250  # and 06-10 starts from it


def _plus(line: str, kwh: float) -> str:
    head, fields, ts = line.split(" ")
    value = float(fields.split(",")[0].split("=")[1]) + kwh
    return f"{head} e_export_kwh={value:.3f} {ts}"


def test_a_small_dip_is_not_billed_twice(influxdb: InfluxServer, influx_db: str) -> None:
    lines, expected = _meter_lines(date(2020, 5, 29), date(2020, 7, 2))
    _write(influxdb, influx_db, lines)
    dip = [line for line in lines if line.startswith("meter,plant=village-a,")
           and int(line.rsplit(" ", 1)[1]) == _ns(date(2020, 6, 20), 12)]
    _write(influxdb, influx_db, [_plus(line, -30.0) for line in dip])  # below 11:00
    table = _read_energy(influxdb, influx_db, load_inputs(EXAMPLE), parse_period("2020-06"))
    a = table.wh[table.plant_ids.index("village-a")]
    assert a[19] == expected[("village-a", date(2020, 6, 20))]
    assert [(f.day, f.kind) for f in table.flags] == [(date(2020, 6, 20), "counter_dip_ignored")]


def test_counter_reset_is_handled_not_billed(influxdb: InfluxServer, influx_db: str) -> None:
    lines, expected = _meter_lines(date(2020, 5, 29), date(2020, 7, 2),
                                   reset_at=(date(2020, 6, 10), 12))
    _write(influxdb, influx_db, lines)
    table = _read_energy(influxdb, influx_db, load_inputs(EXAMPLE), parse_period("2020-06"))
    a = table.wh[table.plant_ids.index("village-a")]
    assert (a >= 0).all()
    # on the reset day, energy after the reset counts from 0: hours 13..18 read 0 + k x step;
    # the 12:00 increment (up to the reset) is lost, the rest is as usual
    assert a[9] == expected[("village-a", date(2020, 6, 10))] - 18_501
    assert a[10] == expected[("village-a", date(2020, 6, 11))]
    assert [(f.plant_id, f.day, f.kind) for f in table.flags] == [
        ("village-a", date(2020, 6, 10), "counter_reset")]


def test_one_missing_day_is_interpolated_and_flagged(influxdb: InfluxServer,
                                                     influx_db: str) -> None:
    gap = date(2020, 6, 15)
    lines, expected = _meter_lines(date(2020, 5, 29), date(2020, 7, 2), skip={gap})
    _write(influxdb, influx_db, lines)
    table = _read_energy(influxdb, influx_db, load_inputs(EXAMPLE), parse_period("2020-06"))
    for p, plant in enumerate(table.plant_ids):
        row = table.wh[p]
        # the gap's energy (10 h of sun) is spread over 06-15 and 06-16 linearly in time
        # from the last reading (06-15 00:00) to the first after (06-16 01:00): 24/25 and 1/25
        step = round(HOURLY_KWH[plant] * 1000)
        assert row[14] + row[15] == 10 * step + expected[(plant, date(2020, 6, 16))]
        assert row[14] == 10 * step * 24 // 25
    assert {(f.plant_id, f.day, f.kind) for f in table.flags} == {
        (p, gap, "interpolated") for p in table.plant_ids}


def test_two_missing_days_are_an_error_naming_plant_and_days(influxdb: InfluxServer,
                                                             influx_db: str) -> None:
    lines, _ = _meter_lines(date(2020, 5, 29), date(2020, 7, 2),
                            skip={date(2020, 6, 15), date(2020, 6, 16)})
    _write(influxdb, influx_db, lines)
    with pytest.raises(EnergyError, match=r"plant gonghe-central: .*2020-06-15\.\.2020-06-17"):
        _read_energy(influxdb, influx_db, load_inputs(EXAMPLE), parse_period("2020-06"))


def test_allocate_from_influx_writes_revenue_points(influxdb: InfluxServer, influx_db: str,
                                                    tmp_path: Path) -> None:
    lines, _ = _meter_lines(date(2020, 5, 29), date(2020, 7, 2))
    _write(influxdb, influx_db, lines)
    target = InfluxSettings(url=influxdb.url, database=influx_db)
    result = run(EXAMPLE, "2020-06", tmp_path, influx=target)
    series = influxdb.query(
        'SELECT sum("net_fen"), sum("gross_fen"), count("net_fen") FROM "revenue" '
        "GROUP BY \"plant\"", influx_db)
    by_plant = {s["tags"]["plant"]: s["values"][0][1:] for s in series}
    for p, plant in enumerate(result.plant_ids):
        net = int(result.plant_gross_fen[p] - result.plant_deductions_fen[p])
        assert by_plant[plant][0] == net
        assert by_plant[plant][1] == int(result.plant_gross_fen[p])
    assert by_plant["gonghe-central"][2] == 9
    # a rerun overwrites (same timestamps and tags) instead of doubling
    run(EXAMPLE, "2020-06", tmp_path, influx=target)
    again = influxdb.query('SELECT count("net_fen") FROM "revenue"', influx_db)
    assert again[0]["values"][0][1] == int(np.asarray(result.pair_plant).size)


def test_a_missing_last_day_is_interpolated_from_the_next_month(influxdb: InfluxServer,
                                                                influx_db: str) -> None:
    gap = date(2020, 6, 30)
    lines, _ = _meter_lines(date(2020, 5, 29), date(2020, 7, 2), skip={gap})
    _write(influxdb, influx_db, lines)
    table = _read_energy(influxdb, influx_db, load_inputs(EXAMPLE), parse_period("2020-06"))
    for p, plant in enumerate(table.plant_ids):
        # last reading 06-30 00:00, next 07-01 01:00: 24/25 of the gap's 10 h of sun
        step = round(HOURLY_KWH[plant] * 1000)
        assert table.wh[p, 29] == 10 * step * 24 // 25
    assert {(f.plant_id, f.day, f.kind) for f in table.flags} == {
        (p, gap, "interpolated") for p in table.plant_ids}


def test_a_missing_last_day_without_the_next_day_is_an_error(influxdb: InfluxServer,
                                                             influx_db: str) -> None:
    lines, _ = _meter_lines(date(2020, 5, 29), date(2020, 6, 29))
    _write(influxdb, influx_db, lines)
    with pytest.raises(EnergyError, match=r"plant gonghe-central: meter energy unknown on "
                                          r"2020-06-30 "):
        _read_energy(influxdb, influx_db, load_inputs(EXAMPLE), parse_period("2020-06"))


def test_a_missing_first_day_is_interpolated_from_the_month_before(influxdb: InfluxServer,
                                                                   influx_db: str) -> None:
    gap = date(2020, 6, 1)
    lines, expected = _meter_lines(date(2020, 5, 29), date(2020, 7, 2), skip={gap})
    _write(influxdb, influx_db, lines)
    table = _read_energy(influxdb, influx_db, load_inputs(EXAMPLE), parse_period("2020-06"))
    for p, plant in enumerate(table.plant_ids):
        step = round(HOURLY_KWH[plant] * 1000)
        assert table.wh[p, 0] == 10 * step * 24 // 25
        assert table.wh[p, 0] + table.wh[p, 1] == 10 * step + expected[(plant, date(2020, 6, 2))]
    assert {(f.plant_id, f.day, f.kind) for f in table.flags} == {
        (p, gap, "interpolated") for p in table.plant_ids}
