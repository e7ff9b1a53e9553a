"""The KPIs of a small fleet over a day with known outages equal the values worked out by hand.

Plant p1 (Gonghe, 360 kWp): two inverters that do not sleep (night_mode: false) and a meter,
all polled every 10 minutes: 144 slots each on 2020-06-21. Readings are written to a real
InfluxDB as the collector writes them; alarms go through the real lifecycle into SQLite.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pvlib
import pytest
import yaml

from collector.alarm_catalog import load_alarm_catalog
from collector.alarms.builtin import Builtins
from collector.alarms.lifecycle import Lifecycle
from collector.alarms.model import AlarmDef, Signal
from collector.alarms.store import AlarmStore
from collector.reading import Reading
from config.loader import load_config
from config.profiles import load_registry
from influx.lineprotocol import encode
from influx.query import InfluxReader
from localsite.servers import InfluxServer
from reports.kpi.collect import KpiCollector

S = 10**9
DAY0 = int(datetime(2020, 6, 20, 16, tzinfo=UTC).timestamp()) * S  # 2020-06-21 00:00 local
STEP = 600 * S


def at(hh: int, mm: int = 0) -> int:
    return DAY0 + (hh * 3600 + mm * 60) * S


OUTAGES = {"inv-01": (at(10), at(12)),  # 12 slots missing
           "meter": (at(14), at(14, 30))}  # 3 slots missing
METER_START, METER_RISE = 5000.0, 1234.5  # kWh exported on the day


def _config(tmp_path: Path, influx: InfluxServer, db: str) -> Path:
    cfg: dict[str, Any] = {
        "site": {"id": "kpi"},
        "influxdb": {"url": influx.url, "database": db, "spool_dir": str(tmp_path / "spool")},
        "state_dir": str(tmp_path / "state"),
        "kpi": {"ack_target_s": 14_400, "pr_reference": 0.8},
        "counties": [{"id": "c", "plants": [{
            "id": "p1", "capacity_kwp_dc": 360, "capacity_kw_ac": 300, "latitude": 36.27,
            "longitude": 100.62, "altitude_m": 2800, "tilt_deg": 30, "devices": [
                {"id": "inv-01", "profile": "huawei-sun2000", "port": 15001, "unit_id": 1,
                 "poll_interval_s": 600, "night_mode": False},
                {"id": "inv-02", "profile": "huawei-sun2000", "port": 15001, "unit_id": 2,
                 "poll_interval_s": 600, "night_mode": False},
                {"id": "meter", "profile": "sunspec-meter", "port": 15001, "unit_id": 3,
                 "poll_interval_s": 600}]}]}],
    }
    path = tmp_path / "site.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def _readings() -> list[Reading]:
    out = []
    for k in range(144):
        t = DAY0 + k * STEP + 5 * S  # a poll lands a few seconds after its slot
        for dev in ("inv-01", "inv-02", "meter"):
            lo, hi = OUTAGES.get(dev, (0, 0))
            if lo <= t < hi:
                continue
            if dev == "meter":
                e = METER_START + METER_RISE * min(max((k - 48) / 60, 0.0), 1.0)  # 08-18 h
                out.append(Reading("meter", "p1", dev, t, {"p_w": 1.0, "e_export_kwh": e}))
            else:
                out.append(Reading("inverter", "p1", dev, t, {"p_ac_w": 1.0,
                                                              "e_total_kwh": 100.0 + k}))
    return out


def _alarms(cfg: Any, store: AlarmStore) -> None:
    b = Builtins(cfg.alarms, load_alarm_catalog())
    lc = Lifecycle(cfg.alarms.model_copy(update={"hold_s": 0.0, "close_after_s": 0.0}))
    string = b.string_low(2)
    stuck = b.stuck("p_w")
    code = b.device_code("huawei-sun2000", 2064)

    def span(device: str, d: AlarmDef, raised: int, ended: int,
             ack: tuple[int, str] | None = None) -> None:
        lc.signal(Signal("p1", device, d, True, raised))
        if ack is not None:
            aid = lc.open[(device, d.id)].id
            lc.acknowledge(aid, ack[0], ack[1], None)
        lc.signal(Signal("p1", device, d, False, ended))
        lc.tick(ended)
        out = lc.drain()
        store.persist(out, [[]] * len(out))

    span("meter", b.comm_loss, DAY0 - 3600 * S, at(1))  # from the day before: 1 h today
    span("inv-02", string, at(9), at(9, 30), (at(15), "王工"))  # minor: acked after 6 h
    span("inv-01", b.comm_loss, at(10, 30), at(12))  # major, never acknowledged
    span("inv-02", code, at(13), at(13, 20), (at(13, 5), "李工"))  # major: acked in 5 min
    span("inv-01", stuck, at(16), at(17), (at(16, 1), "王工"))  # a warning: counts nowhere


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, influxdb: InfluxServer) -> Path:
    tmp = tmp_path_factory.mktemp("kpi")
    influxdb.create_database("kpi_hand")
    path = _config(tmp, influxdb, "kpi_hand")
    r = httpx.post(f"{influxdb.url}/write", params={"db": "kpi_hand", "precision": "ns"},
                   content=encode(_readings(), "ns"), timeout=30, trust_env=False)
    assert r.status_code == 204, r.text
    cfg = load_config(path)
    _alarms(cfg, AlarmStore(cfg.state_path))
    return path


def _clear_sky_kwh() -> float:
    """The expectation as the README defines it, computed here with pvlib directly."""
    times = pd.date_range(pd.Timestamp(DAY0 + 30 * S, unit="ns", tz="UTC"), periods=1440,
                          freq="60s")
    loc = pvlib.location.Location(36.27, 100.62, "UTC", 2800)
    sp = loc.get_solarposition(times)
    cs = loc.get_clearsky(times, model="ineichen", solar_position=sp)
    poa = pvlib.irradiance.get_total_irradiance(30, 180, sp["apparent_zenith"], sp["azimuth"],
                                                cs["dni"], cs["ghi"], cs["dhi"])["poa_global"]
    return float(poa.clip(lower=0).fillna(0).sum()) / 1000 * 360 * 0.8 / 60


def test_a_day_equals_the_hand_computed_values(site: Path) -> None:
    cfg = load_config(site)
    with InfluxReader(cfg.influxdb) as reader:
        store = AlarmStore(cfg.state_path, create=False)
        kc = KpiCollector(cfg, load_registry(), reader, store, now_ns=DAY0 + 3 * 86_400 * S)
        (day,), month = kc.kpis("p1", "2020-06-21")
    assert month is None
    # online: 3 x 144 slots expected; inv-01 missed 12 (10:00-12:00), the meter 3 (14:00-14:30)
    assert (day.readings_expected, day.readings_received) == (432, 417)
    assert day.online_rate == pytest.approx(417 / 432)
    # fault: major alarms only: the meter 1 h (since yesterday), inv-01 1.5 h, inv-02 20 min
    assert day.fault_s == 3600 + 5400 + 1200
    assert day.fault_rate == pytest.approx(10_200 / (3 * 86_400))
    # O&M: alarms first raised today, major and minor: inv-02 string (09:00, acked 15:00),
    # inv-01 silent (10:30, never acked), inv-02 code (13:00, acked 13:05)
    assert (day.alarms, day.acknowledged, day.acknowledged_in_target, day.cleared) == (
        3, 2, 1, 3)
    assert day.mean_ack_s == pytest.approx((6 * 3600 + 300) / 2)
    assert day.mean_clear_s == pytest.approx((1800 + 5400 + 1200) / 3)
    assert day.coverage == pytest.approx(1 / 3)
    # capability: the meter's rise against the clear sky
    assert day.energy_kwh == pytest.approx(METER_RISE)
    assert day.expected_kwh == pytest.approx(_clear_sky_kwh(), rel=1e-6)
    assert day.generation_capability == pytest.approx(METER_RISE / _clear_sky_kwh(), rel=1e-6)


def test_a_month_sums_its_days(site: Path) -> None:
    cfg = load_config(site)
    with InfluxReader(cfg.influxdb) as reader:
        store = AlarmStore(cfg.state_path, create=False)
        kc = KpiCollector(cfg, load_registry(), reader, store, now_ns=DAY0 + 30 * 86_400 * S)
        days, month = kc.kpis("p1", "2020-06")
    assert month is not None and len(days) == 30
    assert (month.readings_expected, month.readings_received) == (30 * 432, 417)
    # the meter's silence began on the 20th at 23:00: that hour belongs to the 20th
    assert month.fault_s == 10_200 + 3600 and month.device_s == 30 * 3 * 86_400
    assert month.energy_kwh == pytest.approx(METER_RISE)  # the other days have no readings
    # the month's alarms include the meter's, raised on the 20th, never acknowledged
    assert (month.alarms, month.acknowledged, month.acknowledged_in_target) == (4, 2, 1)
    assert month.mean_clear_s == pytest.approx((7200 + 1800 + 5400 + 1200) / 4)


def test_pvrelief_kpi_prints_and_writes_the_points(site: Path, influxdb: InfluxServer) -> None:
    out = subprocess.run([sys.executable, "-m", "pvrelief", "kpi", "-c", str(site),
                          "--plant", "p1", "--day", "2020-06-21"], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[2].split() == ["周期", "在线率", "故障率", "发电能力", "平均确认", "平均恢复",
                                "运维覆盖率", "告警"]
    assert lines[3].split()[:3] == ["2020-06-21", f"{417 / 432 * 100:.1f}%",
                                    f"{10_200 / 259_200 * 100:.1f}%"]
    rows = influxdb.query('SELECT "online_rate", "coverage" FROM "kpi" WHERE "span" = \'day\'',
                          "kpi_hand")
    (series,) = rows
    assert series["values"] == [[DAY0, pytest.approx(417 / 432), pytest.approx(1 / 3)]]
