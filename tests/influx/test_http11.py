"""The lean HTTP/1.1 client against servers that answer in every way HTTP/1.1 allows (and
some it does not). Writes to a real InfluxDB go through it in the sink's tests."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from config.influx import InfluxSettings
from influx.client import InfluxWriter
from influx.errors import Rejected, Unavailable
from influx.http11 import Http11Pool, HttpError

Script = Callable[[int, bytes], list[bytes] | None]  # request number, request -> what to send
END = b""  # in a script's answer: close the connection there


@asynccontextmanager
async def server(script: Script,
                 ssl_context: object = None) -> AsyncIterator[tuple[int, list[bytes]]]:
    """A server that reads each request whole and sends what ``script`` says; None: close.
    Yields its port and the requests it read."""
    seen: list[bytes] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                              if line.lower().startswith(b"content-length"))
                request = head + await reader.readexactly(length)
                seen.append(request)
                answer = script(len(seen), request)
                if answer is None:
                    break
                closing = END in answer
                if closing:
                    answer = answer[:answer.index(END)]
                for part in answer:
                    writer.write(part)
                    await writer.drain()
                    await asyncio.sleep(0.01)  # answers arrive in pieces
                if closing:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    srv = await asyncio.start_server(serve, "127.0.0.1", 0,
                                     ssl=ssl_context)  # type: ignore[arg-type]
    try:
        yield srv.sockets[0].getsockname()[1], seen
    finally:
        srv.close()


def pool(port: int, timeout_s: float = 2.0, scheme: str = "http") -> Http11Pool:
    return Http11Pool(f"{scheme}://127.0.0.1:{port}", {"Authorization": "Token t"}, timeout_s, 2)


NO_CONTENT = [b"HTTP/1.1 204 No Content\r\nX-Influxdb-Version: 1.8\r\n\r\n"]


async def test_keep_alive_posts_reuse_one_connection() -> None:
    async with server(lambda n, r: NO_CONTENT) as (port, seen):
        p = pool(port)
        for _ in range(3):
            answer = await p.post("/write?db=d&precision=ns", b"m f=1 1\n")
            assert answer.status_code == 204 and answer.content == b""
        await p.aclose()
    assert len(seen) == 3
    first = seen[0].split(b"\r\n")
    assert first[0] == b"POST /write?db=d&precision=ns HTTP/1.1"
    assert f"Host: 127.0.0.1:{port}".encode() in first and b"Authorization: Token t" in first
    assert seen[0].endswith(b"\r\n\r\nm f=1 1\n")


@pytest.mark.parametrize("answer", [
    [b"HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nContent-Length: 37\r\n\r\n",
     b'{"error":"partial write: dropped=1"}\n'],
    [b"HTTP/1.1 400 Bad Request\r\nTransfer-Encoding: chunked\r\n\r\n",
     b"10\r\n{\"error\":\"partia", b"\r\n14;ext=1\r\nl write: dropped=1\"}\r",
     b"\n0\r\n", b"\r\n"],
    [b"HTTP/1.1 100 Continue\r\n\r\n",
     b"HTTP/1.1 400 Bad Request\r\nContent-Length: 36\r\n\r\n",
     b'{"error":"partial write: dropped=1"}'],
], ids=["content-length", "chunked", "after-100-continue"])
async def test_answers_are_framed_every_way(answer: list[bytes]) -> None:
    async with server(lambda n, r: answer) as (port, _):
        p = pool(port)
        got = await p.post("/write", b"x")
        assert got.status_code == 400 and got.json() == {"error": "partial write: dropped=1"}
        assert (await p.post("/write", b"x")).status_code == 400  # the connection still works
        await p.aclose()


async def test_an_answer_framed_by_the_close() -> None:
    closes: list[int] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        await reader.readexactly(1)
        writer.write(b"HTTP/1.1 500 Oops\r\n\r\nit broke")
        await writer.drain()
        closes.append(1)
        writer.close()

    srv = await asyncio.start_server(serve, "127.0.0.1", 0)
    p = pool(srv.sockets[0].getsockname()[1])
    got = await p.post("/write", b"x")
    assert (got.status_code, got.reason_phrase, got.text) == (500, "Oops", "it broke")
    got = await p.post("/write", b"x")  # a new connection: that one was closed
    assert got.text == "it broke" and closes == [1, 1]
    srv.close()
    await p.aclose()


async def test_a_connection_closed_while_idle_is_replaced() -> None:
    async with server(lambda n, r: NO_CONTENT) as (port, _):
        p = pool(port)
        await p.post("/write", b"a")
        assert len(p._idle) == 1
    async with server(lambda n, r: NO_CONTENT) as (port2, seen2):
        p._idle[0].close()  # as the server's close would leave it
        p.port = port2
        assert (await p.post("/write", b"b")).status_code == 204
        assert len(seen2) == 1
        await p.aclose()


async def test_a_request_dropped_on_a_kept_connection_is_sent_once_more() -> None:
    # the first connection's second request is read and the connection closed unanswered,
    # as a server that timed it out just as the request came; the request goes again, anew
    async with server(lambda n, r: NO_CONTENT if n != 2 else None) as (port, seen):
        p = pool(port)
        await p.post("/write", b"a")
        assert (await p.post("/write", b"b")).status_code == 204
        assert [r.endswith(b"b") for r in seen] == [False, True, True]
        await p.aclose()


@pytest.mark.parametrize("answer,what", [
    ([b"SMTP ready\r\n\r\n"], "not an HTTP/1.1 answer"),
    ([b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n"], "not an HTTP/1.1 answer"),
    ([b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", END], "closed mid-answer"),
    ([b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"], "not an HTTP/1.1"),
])
async def test_garbage_and_cut_answers_are_errors(answer: list[bytes], what: str) -> None:
    async with server(lambda n, r: answer if n == 1 else None) as (port, _):
        p = pool(port, timeout_s=1.0)
        with pytest.raises(HttpError, match=what):
            await p.post("/write", b"x")
        await p.aclose()


async def test_a_silent_server_and_a_closed_port_are_errors_within_the_deadline() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(30)

    srv = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = srv.sockets[0].getsockname()[1]
    loop = asyncio.get_running_loop()
    t = loop.time()
    with pytest.raises(HttpError, match=r"no answer within 0\.3 s"):
        await pool(port, timeout_s=0.3).post("/write", b"x")
    assert loop.time() - t < 2
    srv.close()
    with pytest.raises(HttpError, match="ConnectionRefused"):
        await pool(port).post("/write", b"x")


def test_header_values_cannot_smuggle_lines() -> None:
    with pytest.raises(ValueError, match="line break"):
        Http11Pool("http://127.0.0.1:1", {"Authorization": "Token a\r\nX-Evil: 1"}, 1.0, 1)
    with pytest.raises(ValueError, match="not an http"):
        Http11Pool("ftp://127.0.0.1:1", {}, 1.0, 1)


async def test_tls_with_the_trust_named_by_ssl_cert_file(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    import ssl

    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    served = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    served.load_cert_chain(cert, key)
    async with server(lambda n, r: NO_CONTENT, served) as (port, seen):
        with pytest.raises(HttpError, match="CERTIFICATE_VERIFY_FAILED"):
            await pool(port, scheme="https").post("/write", b"x")  # not trusted by default
        monkeypatch.setenv("SSL_CERT_FILE", str(cert))
        p = pool(port, scheme="https")
        assert (await p.post("/write", b"x")).status_code == 204
        await p.aclose()
    assert len(seen) == 1


async def test_the_writer_maps_answers_and_goes_through_a_proxy_with_httpx(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    answer = [b"HTTP/1.1 400 Bad Request\r\nContent-Length: 36\r\n\r\n",
              b'{"error":"partial write: dropped=1"}']
    async with server(lambda n, r: answer) as (port, seen):
        writer = InfluxWriter(InfluxSettings(url=f"http://127.0.0.1:{port}", database="d"))
        with pytest.raises(Rejected, match="dropped=1"):
            await writer.post(b"m f=1 1\n", "ns")
        assert seen[-1].startswith(b"POST /write?db=d&precision=ns HTTP/1.1")
        await writer.aclose()
        # a proxy in the environment: httpx goes through it, as before (here, a dead one)
        monkeypatch.setenv("http_proxy", "http://127.0.0.1:9")
        monkeypatch.setenv("no_proxy", "")
        writer = InfluxWriter(InfluxSettings(url=f"http://127.0.0.1:{port}", database="d"))
        with pytest.raises(Unavailable, match="unreachable"):
            await writer.post(b"m f=1 1\n", "ns")
        await writer.aclose()
    assert len(seen) == 1  # the proxied POST never reached the server
