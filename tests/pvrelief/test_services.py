import httpx

from localsite.servers import InfluxServer, MosquittoServer


def test_influx_accepts_line_protocol_and_answers_queries(influxdb: InfluxServer, influx_db: str):
    r = httpx.post(
        f"{influxdb.url}/write", params={"db": influx_db, "precision": "s"},
        content=b"m,plant=p1 f=1.5 1600000000\n",
    )
    assert r.status_code == 204
    series = influxdb.query("SELECT f FROM m", db=influx_db)
    assert series[0]["values"] == [[1_600_000_000_000_000_000, 1.5]]


def test_influx_restarts_on_same_port_and_keeps_data(own_influxdb: InfluxServer):
    own_influxdb.create_database("keep")
    httpx.post(f"{own_influxdb.url}/write", params={"db": "keep"}, content=b"m v=1 1\n")
    port = own_influxdb.port
    own_influxdb.stop()
    assert not own_influxdb.running
    own_influxdb.start()
    assert own_influxdb.port == port
    assert own_influxdb.query("SELECT v FROM m", db="keep")[0]["values"] == [[1, 1.0]]


def test_mosquitto_listens_on_loopback(mosquitto: MosquittoServer):
    import socket

    with socket.create_connection(("127.0.0.1", mosquitto.port), timeout=2) as s:
        # MQTT CONNECT, protocol 3.1.1, clean session, keepalive 10, client id "t"
        s.sendall(bytes([0x10, 13, 0, 4]) + b"MQTT" + bytes([4, 2, 0, 10, 0, 1]) + b"t")
        assert s.recv(4) == bytes([0x20, 2, 0, 0])  # CONNACK, accepted
