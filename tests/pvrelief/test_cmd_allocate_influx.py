"""`pvrelief allocate` against an InfluxDB with auth on, with the collector's influxdb: section
(the password a secret from env or file): meter energy in, revenue points out; a wrong password
is a clear error, exit 2, and never printed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from typer.testing import CliRunner

from influx import names
from influx.lineprotocol import line
from localsite.servers import InfluxServer
from pvrelief.cli import app

EXAMPLE = Path(__file__).resolve().parents[2] / "config/examples/allocation-gonghe.yaml"
METERS = {"gonghe-central": "gc-meter", "village-a": "va-meter", "village-b": "vb-meter"}
KWH_PER_SUNNY_HOUR = 10.5
PASSWORD = "Pw-3e8d-distinctive"
DB = "plant_data"


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InfluxServer]:
    server = InfluxServer(tmp_path_factory.mktemp("influx"), auth=("admin", PASSWORD)).start()
    try:
        with server.client(DB) as client:
            client.create_database()
            client.write_lines(_meter_lines(date(2020, 5, 29), date(2020, 7, 2)))
        yield server
    finally:
        server.stop()


def _meter_lines(first: date, last: date) -> list[str]:
    """Hourly readings; 10 sunny hours a day, each adding KWH_PER_SUNNY_HOUR."""
    zone, out = ZoneInfo("Asia/Shanghai"), []
    for plant, meter in METERS.items():
        counter, day = 1000.0, first
        while day <= last:
            midnight = datetime(day.year, day.month, day.day, tzinfo=zone)
            for hour in range(1, 25):
                counter += KWH_PER_SUNNY_HOUR if 8 < hour <= 18 else 0.0
                ts = int((midnight + timedelta(hours=hour)).timestamp()) * 10**9
                out.append(line(names.METER, {names.PLANT: plant, names.DEVICE: meter},
                                {names.E_EXPORT_KWH: counter}, ts))
            day += timedelta(days=1)
    return out


def _collector_config(server: InfluxServer, password: str) -> str:
    return (f"site: {{id: gonghe}}\ninfluxdb:\n  url: {server.url}\n  database: {DB}\n"
            f"  username: admin\n  password: {password}\n"
            "counties: []  # the devices are not read by allocate\n")


def _allocate(out: Path, *options: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["allocate", "--config", str(EXAMPLE), "--period",
                                      "2020-06", "--out", str(out), *options], env=env)
    return result.exit_code, result.output


@pytest.mark.parametrize("secret", ["env", "file"])
def test_allocate_reads_meters_and_writes_revenue_with_auth(
        secured: InfluxServer, tmp_path: Path, secret: str) -> None:
    cfg = tmp_path / "collector.yaml"
    if secret == "file":
        (tmp_path / "influx-password").write_text(PASSWORD + "\n")
        cfg.write_text(_collector_config(secured, "{file: influx-password}"))
    else:
        cfg.write_text(_collector_config(secured, "{env: PVRELIEF_TEST_PW}"))
    with secured.client(DB) as client:
        client.execute(f'DROP MEASUREMENT "{names.REVENUE}"', DB)
    code, output = _allocate(tmp_path / "out", "--influx-config", str(cfg),
                             env={"PVRELIEF_TEST_PW": PASSWORD})
    assert code == 0, output
    result = json.loads((tmp_path / "out" / "allocation.json").read_text(encoding="utf-8"))
    assert result["inputs"]["energy"]["source"] == f"influxdb {secured.url} db={DB}"
    metered = 30 * 10 * KWH_PER_SUNNY_HOUR  # June: 30 days of 10 sunny hours
    assert {p["plant_id"]: float(p["energy_kwh"]) for p in result["plants"]} == {
        "village-a": metered, "village-b": metered,
        "gonghe-central": metered * 2610 / 20000}  # only the poverty portion is allocated
    stored = secured.query(f'SELECT sum("{names.NET_FEN}") FROM "{names.REVENUE}" '
                           f'GROUP BY "{names.PLANT}"', DB)
    assert {s["tags"]["plant"]: s["values"][0][1] for s in stored} == {
        p["plant_id"]: p["net_fen"] for p in result["plants"]}
    assert PASSWORD not in output


def test_flags_map_onto_the_section(secured: InfluxServer, tmp_path: Path) -> None:
    code, output = _allocate(tmp_path / "out", "--influx-url", secured.url, "--influx-db", DB,
                             "--influx-username", "admin", "--influx-password-env", "PW_FLAG",
                             env={"PW_FLAG": PASSWORD})
    assert code == 0, output


def test_a_wrong_password_is_a_clear_error_that_never_shows_it(
        secured: InfluxServer, tmp_path: Path) -> None:
    wrong = "Wrong-" + PASSWORD
    (tmp_path / "influx-password").write_text(wrong)
    cfg = tmp_path / "collector.yaml"
    cfg.write_text(_collector_config(secured, "{file: influx-password}"))
    code, output = _allocate(tmp_path / "out", "--influx-config", str(cfg))
    assert code == 2, output
    assert "refused the credentials (401)" in output and "Traceback" not in output
    assert PASSWORD not in output and wrong not in output
    assert not (tmp_path / "out" / "allocation.json").exists()


def test_a_url_with_credentials_is_refused_without_echoing_them(tmp_path: Path) -> None:
    code, output = _allocate(tmp_path / "out", "--influx-url",
                             f"http://admin:{PASSWORD}@127.0.0.1:1", "--influx-db", DB)
    assert code == 2, output
    assert "--influx-url: the URL must not hold credentials" in output
    assert PASSWORD not in output
