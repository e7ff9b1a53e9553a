"""Shared fixtures: real InfluxDB and Mosquitto servers, each on its own port and folder.

A server that cannot start fails the test loudly (ServiceError); it never skips.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from localsite.servers import InfluxServer, MosquittoServer

_db_counter = itertools.count()


@pytest.fixture(scope="session")
def var_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("var")


@pytest.fixture(scope="session")
def influxdb(var_dir: Path) -> Iterator[InfluxServer]:
    with InfluxServer(var_dir / f"influx-{os.getpid()}") as server:
        yield server


@pytest.fixture
def influx_db(influxdb: InfluxServer) -> str:
    """A fresh, empty database on the shared server."""
    name = f"t{next(_db_counter)}"
    influxdb.create_database(name)
    return name


@pytest.fixture
def own_influxdb(tmp_path: Path) -> Iterator[InfluxServer]:
    """A server of the test's own, for tests that stop, kill or restart it."""
    server = InfluxServer(tmp_path / "influx")
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def mosquitto(var_dir: Path) -> Iterator[MosquittoServer]:
    with MosquittoServer(var_dir / f"mosquitto-{os.getpid()}") as server:
        yield server


@pytest.fixture
def own_mosquitto(tmp_path: Path) -> Iterator[MosquittoServer]:
    """A broker of the test's own, for tests that stop, kill or restart it."""
    server = MosquittoServer(tmp_path / "mosquitto")
    server.start()
    yield server
    server.stop()


MQTT_USERS = {"edge": "edge-secret", "centre": "centre-secret"}


@pytest.fixture(scope="session")
def mosquitto_tls(var_dir: Path) -> Iterator[MosquittoServer]:
    """TLS only, and only the users in MQTT_USERS (password file made by mosquitto_passwd)."""
    with MosquittoServer(var_dir / f"mosquitto-tls-{os.getpid()}", tls=True,
                         users=MQTT_USERS) as server:
        yield server
