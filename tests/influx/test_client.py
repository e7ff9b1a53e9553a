"""The sync client against a real InfluxDB: queries, writes, CREATE DATABASE, and every failure
mapped to an influx error (no httpx exception gets out)."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from config.influx import InfluxSettings
from influx.client import InfluxClient
from influx.errors import AuthError, Refused, Rejected, TargetMissing, Unavailable
from localsite.servers import InfluxServer, free_port


def test_write_query_and_create_database(influxdb: InfluxServer) -> None:
    with influxdb.client("made_here") as client:
        client.create_database()
        client.create_database()  # idempotent
        assert client.write_lines([f"m,t=a v={i} {i}" for i in range(7)], batch=3) == 7
        [series] = client.query('SELECT "v" FROM "m"')
        assert series["values"] == [[i, float(i)] for i in range(7)]
        names = {row[0] for s in client.query("SHOW DATABASES", db="") for row in s["values"]}
        assert "made_here" in names


def test_answers_are_mapped_by_what_the_caller_can_do(influxdb: InfluxServer,
                                                      influx_db: str) -> None:
    with influxdb.client(influx_db) as client:
        with pytest.raises(Refused, match="error parsing query"):
            client.query("SELEKT nonsense")
        with pytest.raises(TargetMissing, match="database not found"):
            client.query('SELECT * FROM "m"', db="no_such_db")
        client.write(b"m v=1i 1\n")
        with pytest.raises(Rejected, match="field type conflict"):
            client.write(b"m v=1.5 2\n")
        with pytest.raises(Rejected, match="unable to parse"):
            client.write(b"m v= 3\n")
    v2 = InfluxSettings(url=influxdb.url, database=influx_db, api="v2", org="o",
                        token={"value": "t"})
    with InfluxClient(v2) as client, pytest.raises(TargetMissing, match="404"):
        client.write(b"m v=1 1\n")  # 1.6 has no /api/v2/write


def test_unreachable_and_hanging_servers_are_unavailable(tmp_path: Path) -> None:
    closed = InfluxSettings(url=f"http://127.0.0.1:{free_port()}", timeout_s=0.5)
    with InfluxClient(closed) as client, pytest.raises(Unavailable, match="unreachable"):
        client.query("SHOW DATABASES")
    with _silent_server() as port:  # accepts the connection and never answers
        hanging = InfluxSettings(url=f"http://127.0.0.1:{port}", timeout_s=0.3)
        with InfluxClient(hanging) as client, pytest.raises(Unavailable, match="Timeout"):
            client.write(b"m v=1 1\n")


def test_credentials_are_checked_and_never_shown(tmp_path: Path) -> None:
    password = "Pw-7f3c-distinctive"
    server = InfluxServer(tmp_path / "influx", auth=("admin", password)).start()
    try:
        def settings(pw: str) -> InfluxSettings:
            return InfluxSettings(url=server.url, database="d", username="admin",
                                  password={"value": pw})

        with InfluxClient(settings("Wrong-" + password)) as client, \
                pytest.raises(AuthError) as e:
            client.query("SHOW DATABASES")
        assert "401" in str(e.value) and password not in str(e.value)
        with InfluxClient(settings(password)) as client:
            client.create_database()
            with pytest.raises(Refused) as refused:  # a statement error shows the statement,
                client.execute(f"CREATE USER \"admin\" WITH PASSWORD '{password}'")  # redacted
        assert "already exists" in str(refused.value) and password not in str(refused.value)
        assert "PASSWORD '********'" in str(refused.value)
    finally:
        server.stop()


@contextlib.contextmanager
def _silent_server() -> Iterator[int]:
    """A port that accepts connections (the kernel's backlog does) and never answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield int(sock.getsockname()[1])
