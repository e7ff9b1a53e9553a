"""The line-loss report against a real InfluxDB holding counters written by hand: which
periods are flagged, and why."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from typer.testing import CliRunner

from config.influx import InfluxSettings
from config.profiles import load_registry
from config.schema import Config
from influx.client import InfluxClient
from localsite.servers import InfluxServer
from reports.errors import ReportError
from reports.influx_counters import InfluxCounters
from reports.line_loss import line_loss, periods
from reports.render import write_csv

SHANGHAI = ZoneInfo("Asia/Shanghai")
REGISTRY = load_registry()


def at(day: str, hhmm: str = "00:00") -> int:
    """UTC ns of a local instant in Shanghai."""
    return int(datetime.fromisoformat(f"{day}T{hhmm}").replace(tzinfo=SHANGHAI).timestamp()
               ) * 10**9


def config(influx: InfluxServer, db: str) -> Config:
    def plant(pid: str, port: int, dlt645: bool) -> dict[str, Any]:
        devices: list[dict[str, Any]] = [
            {"id": f"{pid}-inv", "profile": "sunspec-inverter", "port": port, "repeat": 2,
             "unit_id": 1},
            {"id": f"{pid}-mb", "profile": "sunspec-meter", "port": port, "unit_id": 10}]
        out: dict[str, Any] = {
            "id": pid, "capacity_kwp_dc": 300, "capacity_kw_ac": 250, "latitude": 36.3,
            "longitude": 100.6, "devices": devices}
        if dlt645:
            out["dlt645_gateways"] = [{"id": f"{pid}-rs485", "port": 1600, "meters": [
                {"id": f"{pid}-gk", "address": "000012345678", "export_is": "reverse"}]}]
        return out

    return Config.model_validate({
        "influxdb": {"url": influx.url, "database": db},
        "counties": [{"id": "c", "plants": [plant("a", 1502, False), plant("b", 1503, True)]}]})


def write(influx: InfluxServer, db: str, lines: list[str]) -> None:
    settings = InfluxSettings(url=influx.url, database=db)  # type: ignore[arg-type]
    with InfluxClient(settings, trust_env=False) as client:
        client.write_lines(lines, precision="ns")


def counters(influx: InfluxServer, db: str) -> None:
    """Two days. Plant a: inverters make 1000 kWh a day (2 x 500); its Modbus meter counts
    980 on day 1 (2% loss) and 850 on day 2 (15%). Plant b: its DL/T 645 meter counts 990 and
    its Modbus meter (not the settlement meter) 500; its inverter b-inv-02 has no reading after
    the morning of day 2."""
    lines = []
    for hour, inv, meter_a, meter_b, mb_b in (
            ("2020-06-20T23:55", 1000.0, 5000.0, 7000.0, 100.0),
            ("2020-06-21T12:00", 1250.0, 5490.0, 7495.0, 350.0),
            ("2020-06-21T23:59", 1500.0, 5980.0, 7990.0, 600.0),
            ("2020-06-22T23:58", 2000.0, 6830.0, 8980.0, 1100.0)):
        day, hhmm = hour.split("T")
        t = at(day, hhmm)
        for n in (1, 2):
            lines.append(f"inverter,plant=a,device=a-inv-0{n} e_total_kwh={inv} {t}")
            if not (n == 2 and day == "2020-06-22"):
                lines.append(f"inverter,plant=b,device=b-inv-0{n} e_total_kwh={inv} {t}")
        lines += [f"meter,plant=a,device=a-mb e_export_kwh={meter_a} {t}",
                  f"meter,plant=b,device=b-gk e_export_kwh={meter_b} {t}",
                  f"meter,plant=b,device=b-mb e_export_kwh={mb_b} {t}"]
    lines.append(f"inverter,plant=b,device=b-inv-02 e_total_kwh=1700 {at('2020-06-22', '09:00')}")
    write(influx, db, lines)


def test_periods() -> None:
    days = periods(date(2020, 6, 30), date(2020, 7, 1), "day")
    assert [p.label for p in days] == ["2020-06-30", "2020-07-01"]
    months = periods(date(2020, 6, 15), date(2020, 8, 1), "month")
    assert [(p.label, p.start, p.end) for p in months] == [
        ("2020-06", date(2020, 6, 1), date(2020, 7, 1)),
        ("2020-07", date(2020, 7, 1), date(2020, 8, 1)),
        ("2020-08", date(2020, 8, 1), date(2020, 9, 1))]
    with pytest.raises(ReportError, match="ends"):
        periods(date(2020, 7, 1), date(2020, 6, 1), "day")


def test_daily_line_loss_flags_what_is_wrong(influxdb: InfluxServer, influx_db: str,
                                             tmp_path: Path) -> None:
    counters(influxdb, influx_db)
    cfg = config(influxdb, influx_db)
    reader = InfluxCounters(cfg.influxdb, trust_env=False)
    try:
        rows = line_loss(cfg, REGISTRY, reader, date(2020, 6, 21), date(2020, 6, 22), "day",
                         max_loss_pct=5.0, stale_s=6 * 3600)
    finally:
        reader.close()
    got = {(r.plant, r.period): r for r in rows}
    a1, a2 = got["a", "2020-06-21"], got["a", "2020-06-22"]
    assert (a1.inverter_kwh, a1.meter_kwh, a1.loss_kwh) == (1000.0, 980.0, 20.0)
    assert a1.loss_pct == pytest.approx(2.0) and a1.flag == ""
    assert a2.loss_pct == pytest.approx(15.0) and a2.flag.startswith("loss above 5%")
    b1, b2 = got["b", "2020-06-21"], got["b", "2020-06-22"]
    assert b1.meters == ("b-gk",)  # the DL/T 645 meter is the settlement meter
    assert b1.meter_kwh == 990.0 and b1.flag == ""
    assert b2.inverter_kwh is None
    assert b2.flag == ("incomplete: b-inv-02: no e_total_kwh reading within 6 h before the "
                       "closing midnight")
    out = tmp_path / "loss.csv"
    write_csv(rows, out)
    text = out.read_text(encoding="utf-8-sig")
    assert text.splitlines()[0] == ("plant,period,inverters_kwh,meter_kwh,loss_kwh,loss_pct,"
                                    "meters,flag")
    assert "a,2020-06-21,1000.000,980.000,20.000,2.000,a-mb," in text


def test_a_meter_above_its_inverters_is_flagged(influxdb: InfluxServer, influx_db: str) -> None:
    t0, t1 = at("2020-06-20", "23:00"), at("2020-06-21", "23:00")
    write(influxdb, influx_db, [
        f"inverter,plant=a,device=a-inv-01 e_total_kwh=0 {t0}",
        f"inverter,plant=a,device=a-inv-01 e_total_kwh=100 {t1}",
        f"inverter,plant=a,device=a-inv-02 e_total_kwh=0 {t0}",
        f"inverter,plant=a,device=a-inv-02 e_total_kwh=100 {t1}",
        f"meter,plant=a,device=a-mb e_export_kwh=0 {t0}",
        f"meter,plant=a,device=a-mb e_export_kwh=260 {t1}"])
    reader = InfluxCounters(config(influxdb, influx_db).influxdb, trust_env=False)
    try:
        (row,) = line_loss(config(influxdb, influx_db), REGISTRY, reader, date(2020, 6, 21),
                           date(2020, 6, 21), plants=["a"])
        with pytest.raises(ReportError, match="no plant z in the config"):
            line_loss(config(influxdb, influx_db), REGISTRY, reader, date(2020, 6, 21),
                      date(2020, 6, 21), plants=["z"])
    finally:
        reader.close()
    assert row.loss_pct == pytest.approx(-30.0)
    assert row.flag.startswith("meter above inverters")


def test_the_command(influxdb: InfluxServer, influx_db: str, tmp_path: Path) -> None:
    from pvrelief.cli import app

    counters(influxdb, influx_db)
    path = tmp_path / "site.yaml"
    path.write_text(config(influxdb, influx_db).model_dump_json(exclude_defaults=True,
                                                               by_alias=True))
    result = CliRunner().invoke(app, ["line-loss", "-c", str(path), "--from", "2020-06-21",
                                      "--to", "2020-06-22", "--plant", "a", "--csv",
                                      str(tmp_path / "out.csv")], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "2.00" in result.output and "15.00" in result.output and "loss above 5%" in result.output
    assert (tmp_path / "out.csv").exists()
    bad = CliRunner().invoke(app, ["line-loss", "-c", str(path), "--from", "2020-13-01"])
    assert bad.exit_code == 2
