"""Every panel's query, macros substituted as Grafana does, runs on a real InfluxDB 1.6 filled
by the simulator and the real collector, and returns data.

What this cannot show: how Grafana draws the result (no Grafana server can run here).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from grafana.dashboards import dashboards
from localsite.servers import InfluxServer
from tests.grafana.fleet import FAULTY, MONTH_START, SILENT, fill
from tests.grafana.macros import substitute

# thresholds chosen so the simulated fleet (about 3 MOhm, 35-40 C) crosses them: the panel's
# filter is exercised on real rows; the defaults (0.5 MOhm, 70 C) would rightly list none
VARIABLES: dict[str, Any] = {"plant": ["p1", "p2"], "silence": "3m",
                             "insulation_min": "5", "temp_max": "30"}


@pytest.fixture(scope="module")
def filled(tmp_path_factory: pytest.TempPathFactory, influxdb: InfluxServer) -> tuple[str, Any]:
    import asyncio
    db = "grafana_panels"
    influxdb.create_database(db)
    asyncio.run(fill(tmp_path_factory.mktemp("grafana"), influxdb, db))
    first = influxdb.query('SELECT first("status") FROM "inverter"', db)[0]["values"][0][0]
    last = influxdb.query('SELECT last("status") FROM "inverter"', db)[0]["values"][0][0]
    return db, (first, last)


def _panels() -> list[tuple[str, str, str, str]]:
    out = []
    for d in dashboards().values():
        for p in d["panels"]:
            for t in p.get("targets", []):
                out.append((d["uid"], p["title"], t["refId"], t["query"]))
    return out


PANELS = _panels()


@pytest.mark.parametrize(("uid", "title", "ref", "query"), PANELS,
                         ids=[f"{u}:{t}:{r}" for u, t, r, _ in PANELS])
def test_panel_query_returns_data(filled: tuple[str, Any], influxdb: InfluxServer, uid: str,
                                  title: str, ref: str, query: str) -> None:
    db, (first_ns, last_ns) = filled
    end = datetime.fromtimestamp(last_ns / 1e9 + 1, UTC)
    # finance and KPIs look back over months (their points are stamped at a period's opening
    # midnight); the others over the simulated run (Grafana: now-24h)
    start = MONTH_START if uid in ("pvrelief-finance", "pvrelief-kpi") else datetime.fromtimestamp(
        first_ns / 1e9 - 60, UTC)
    q = substitute(query, start, end, "1m", VARIABLES)
    series = influxdb.query(q, db)  # an InfluxQL error raises influx.errors.Refused
    values = [v for s in series for row in s["values"] for v in row[1:] if v is not None]
    assert values, f"{title}: no data from {q}"


def test_alarm_panels_name_the_right_devices(filled: tuple[str, Any],
                                             influxdb: InfluxServer) -> None:
    from grafana import technicians
    db, (first_ns, last_ns) = filled
    start = datetime.fromtimestamp(first_ns / 1e9 - 60, UTC)
    end = datetime.fromtimestamp(last_ns / 1e9 + 1, UTC)

    def devices(query: str) -> set[str]:
        q = substitute(query, start, end, "1m", VARIABLES)
        return {s["tags"]["device"] for s in influxdb.query(q, db)}

    assert devices(technicians.ACTIVE_FAULTS) == {FAULTY}
    assert devices(technicians.SILENT) == {SILENT}


def test_the_alarm_dashboard_shows_the_fault_and_the_silent_inverter_as_active(
        filled: tuple[str, Any], influxdb: InfluxServer) -> None:
    from grafana import alarm_board
    db, (first_ns, last_ns) = filled
    start = datetime.fromtimestamp(first_ns / 1e9 - 60, UTC)
    end = datetime.fromtimestamp(last_ns / 1e9 + 1, UTC)
    q = substitute(alarm_board.ACTIVE, start, end, "1m", VARIABLES)
    active = {(s["tags"]["device"], s["tags"]["alarm"]) for s in influxdb.query(q, db)}
    assert {(FAULTY, "code-2064"), (SILENT, "comm-loss")} <= active
    # At 240x the silent unit's 1 s timeouts hold its plant's one connection for 4 simulated
    # minutes each: its neighbours on p2 may miss 3 polls and be reported silent too, rightly.
    # Nothing else is on: PASSING's alarm cleared, p1's others never had one.
    assert all(d == FAULTY or (d.startswith("p2-") and a == "comm-loss") for d, a in active)


def test_plant_variable_query_lists_the_plants(filled: tuple[str, Any],
                                               influxdb: InfluxServer) -> None:
    for d in dashboards().values():
        (plant,) = [v for v in d["templating"]["list"] if v["name"] == "plant"]
        values = {row[1] for s in influxdb.query(plant["query"], filled[0]) for row in s["values"]}
        assert values == {"p1", "p2"}
