"""Local InfluxDB and Mosquitto servers for the demo, the tests and the benchmarks.

One code path starts them everywhere: a private port on 127.0.0.1, a private data folder under
``var/``, a generated config file, and a readiness check with a deadline. ``influxd`` has no
daemon mode, so both servers run as child processes that we own and stop.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType
from typing import Self

import httpx

from config.influx import InfluxSettings
from influx.client import InfluxClient
from influx.errors import AuthError
from influx.influxql import quote_ident, quote_literal

DEFAULT_VAR = Path(__file__).resolve().parent.parent / "var"
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 15.0


class ServiceError(RuntimeError):
    """A local server could not be found, started or stopped."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def find_binary(name: str) -> str:
    for candidate in (shutil.which(name), f"/usr/sbin/{name}", f"/usr/bin/{name}"):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    package = "influxdb" if name == "influxd" else name
    raise ServiceError(
        f"{name} not found; install it with: apt-get install -y {package} (or run `make test`)"
    )


class LocalServer:
    """A child-process server with a private folder; start() blocks until it answers."""

    name = "server"

    def __init__(self, root: Path, port: int | None = None) -> None:
        self.root = Path(root)
        self.port = port or free_port()
        self._proc: subprocess.Popen[bytes] | None = None

    # subclasses fill these in
    def _command(self) -> list[str]:
        raise NotImplementedError

    def _ready(self) -> bool:
        raise NotImplementedError

    @property
    def log_path(self) -> Path:
        return self.root / f"{self.name}.log"

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        """The server's process id while it runs (benchmarks pin it, read its CPU), else None."""
        return self._proc.pid if self.running and self._proc is not None else None

    def start(self, timeout: float = START_TIMEOUT_S) -> Self:
        if self.running:
            return self
        self.root.mkdir(parents=True, exist_ok=True)
        cmd = self._command()
        log = self.log_path.open("ab")
        try:
            self._proc = subprocess.Popen(
                cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True,  # a Ctrl-C in the terminal is ours to handle, not theirs
            )
        finally:
            log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise ServiceError(
                    f"{self.name} exited with {self._proc.returncode} on start; "
                    f"last log lines:\n{self.tail_log()}"
                )
            if self._ready():
                return self
            time.sleep(0.05)
        self.stop()
        raise ServiceError(
            f"{self.name} did not answer on 127.0.0.1:{self.port} within {timeout:.0f} s; "
            f"last log lines:\n{self.tail_log()}"
        )

    def stop(self, timeout: float = STOP_TIMEOUT_S) -> None:
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)

    def kill(self) -> None:
        """Stop without a clean shutdown, as a power cut would."""
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait(5)

    def tail_log(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


# A fleet's readings are many field series (20,000 SUN2000 are a million): with influxd's
# default 25 MB cache, a snapshot every few seconds writes every one of them into a new TSM
# file, and those small files are then compacted again. Snapshotting at 256 MB took about half
# the CPU for the same load (bench/store.py, bench/results/store.json); README, Operations,
# recommends the same setting for a production influxd.
SNAPSHOT_SIZE = "256m"


class InfluxServer(LocalServer):
    """InfluxDB 1.x (Debian's ``influxdb``) speaking the v1 HTTP API on a private port."""

    name = "influxd"

    def __init__(self, root: Path, port: int | None = None, rpc_port: int | None = None,
                 auth: tuple[str, str] | None = None,
                 snapshot_size: str | None = SNAPSHOT_SIZE) -> None:
        super().__init__(root, port)
        self.rpc_port = rpc_port or free_port()
        self.auth = auth  # (admin user, password): auth-enabled, the user created at start
        self.snapshot_size = snapshot_size  # None: influxd's own default (25 MB)
        self._client: InfluxClient | None = None  # for query() and create_database()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _config_text(self) -> str:
        d = self.root
        snapshot = (f'  cache-snapshot-memory-size = "{self.snapshot_size}"\n'
                    if self.snapshot_size else "")
        return f"""reporting-disabled = true
bind-address = "127.0.0.1:{self.rpc_port}"

[meta]
  dir = "{d}/meta"
  logging-enabled = false

[data]
  dir = "{d}/data"
  wal-dir = "{d}/wal"
  query-log-enabled = false
  trace-logging-enabled = false
{snapshot}
[monitor]
  store-enabled = false

[http]
  enabled = true
  bind-address = "127.0.0.1:{self.port}"
  auth-enabled = {"true" if self.auth else "false"}
  log-enabled = false
  max-body-size = 25000000

[continuous_queries]
  enabled = false

[subscriber]
  enabled = false
"""

    def _command(self) -> list[str]:
        binary = find_binary("influxd")
        conf = self.root / "influxdb.conf"
        conf.write_text(self._config_text())
        return [binary, "run", "-config", str(conf)]

    def _ready(self) -> bool:
        try:
            # trust_env=False: a proxy from the environment must not sit between us and loopback
            return httpx.get(f"{self.url}/ping", timeout=0.5, trust_env=False).status_code == 204
        except httpx.HTTPError:
            return False

    def start(self, timeout: float = START_TIMEOUT_S) -> InfluxServer:
        super().start(timeout)
        if self.auth:
            # with auth on and no user yet, InfluxDB 1.x accepts exactly this unauthenticated
            # statement; afterwards (a restart) it answers 403, which is fine
            user, password = self.auth
            with (InfluxClient(InfluxSettings(url=self.url), trust_env=False) as anonymous,
                  contextlib.suppress(AuthError)):
                anonymous.execute(f"CREATE USER {quote_ident(user)} WITH PASSWORD "
                                  f"{quote_literal(password)} WITH ALL PRIVILEGES")
        return self

    def stop(self, timeout: float = STOP_TIMEOUT_S) -> None:
        super().stop(timeout)
        if self._client is not None:
            self._client.close()
            self._client = None

    def client(self, database: str = "pvrelief") -> InfluxClient:
        """A client of influx/client.py for this server (its admin user when auth is on)."""
        settings = InfluxSettings(url=self.url, database=database)
        if self.auth:
            user, password = self.auth
            settings = InfluxSettings(url=self.url, database=database, username=user,
                                      password={"value": password})
        # trust_env=False: a proxy from the environment must not sit between us and loopback
        return InfluxClient(settings, trust_env=False)

    def create_database(self, db: str) -> None:
        self._shared().create_database(db)

    def query(self, q: str, db: str | None = None, method: str = "GET") -> list[dict]:
        """Run InfluxQL; return the ``series`` of the first statement (empty list when none).

        GET is a read-only query; POST a statement that changes something. Errors are
        influx/errors.py's (an InfluxQL error is Refused).
        """
        client = self._shared()
        if method == "POST":
            return client.execute(q, db)
        return client.query(q, db or "")  # "": no database, as before

    def _shared(self) -> InfluxClient:
        if self._client is None:
            self._client = self.client()
        return self._client


class MosquittoServer(LocalServer):
    """Mosquitto 2.x (Debian's ``mosquitto``) on a private port, loopback only.

    Anonymous by default. With ``users`` it reads a password file made with
    ``mosquitto_passwd`` and refuses anyone else; with ``tls`` it speaks TLS only, with a CA and
    server (and client) certificates made by ``openssl`` in its folder (``ca_file``,
    ``client_cert``, ``client_key``); ``require_certificate`` makes the client certificate
    mandatory. Persistence is on: a SIGTERM writes it, a restart reads it.
    """

    name = "mosquitto"

    def __init__(self, root: Path, port: int | None = None, *, tls: bool = False,
                 users: dict[str, str] | None = None, require_certificate: bool = False) -> None:
        super().__init__(root, port)
        self.tls = tls
        self.users = dict(users or {})
        self.require_certificate = require_certificate

    @property
    def ca_file(self) -> Path:
        return self.root / "certs" / "ca.crt"

    @property
    def client_cert(self) -> Path:
        return self.root / "certs" / "client.crt"

    @property
    def client_key(self) -> Path:
        return self.root / "certs" / "client.key"

    def _command(self) -> list[str]:
        binary = find_binary("mosquitto")
        d = self.root
        # As root mosquitto drops to user `mosquitto`, which cannot write our folder: stay root.
        user = "user root\n" if os.geteuid() == 0 else ""
        text = (f"{user}listener {self.port} 127.0.0.1\n"
                f"allow_anonymous {'false' if self.users else 'true'}\n"
                "persistence true\n"
                f"persistence_location {d}/\n"
                "autosave_interval 30\n"
                "log_dest stdout\n"
                "set_tcp_nodelay true\n"  # small MQTT packets must not wait for Nagle
                "max_queued_messages 100000\n")
        if self.users:
            text += f"password_file {self._password_file()}\n"
        if self.tls:
            certs = make_certificates(d / "certs")
            text += (f"cafile {certs / 'ca.crt'}\ncertfile {certs / 'server.crt'}\n"
                     f"keyfile {certs / 'server.key'}\n"
                     f"require_certificate {'true' if self.require_certificate else 'false'}\n")
        conf = d / "mosquitto.conf"
        conf.write_text(text)
        return [binary, "-c", str(conf)]

    def _password_file(self) -> Path:
        path = self.root / "passwd"
        path.unlink(missing_ok=True)
        tool = find_binary("mosquitto_passwd")
        for i, (user, password) in enumerate(self.users.items()):
            create = ["-c"] if i == 0 else []
            _run([tool, *create, "-b", str(path), user, password])
        path.chmod(0o600)
        return path

    def _ready(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                return True
        except OSError:
            return False


def _run(cmd: list[str]) -> None:
    done = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=60)
    if done.returncode != 0:
        raise ServiceError(f"{' '.join(cmd[:2])} failed ({done.returncode}): {done.stderr}")


def make_certificates(folder: Path) -> Path:
    """A private CA, a server certificate for 127.0.0.1/localhost and a client certificate,
    made once per folder with ``openssl`` (kept on restarts, so clients keep trusting it)."""
    if (folder / "client.crt").is_file():
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    ssl = find_binary("openssl")
    days = ["-days", "3650"]
    _run([ssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(folder / "ca.key"),
          "-out", str(folder / "ca.crt"), "-subj", "/CN=pvrelief test CA", *days])
    ext = folder / "server.ext"
    ext.write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    for name, cn, extra in (("server", "localhost", ["-extfile", str(ext)]),
                            ("client", "pvrelief-client", [])):
        _run([ssl, "req", "-newkey", "rsa:2048", "-nodes", "-keyout", str(folder / f"{name}.key"),
              "-out", str(folder / f"{name}.csr"), "-subj", f"/CN={cn}"])
        _run([ssl, "x509", "-req", "-in", str(folder / f"{name}.csr"), "-CA",
              str(folder / "ca.crt"), "-CAkey", str(folder / "ca.key"), "-CAcreateserial",
              "-out", str(folder / f"{name}.crt"), *days, *extra])
    return folder
