"""Accounts, sessions and login throttling on a real SQLite state database (no server)."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from statedb.db import connect
from web.accounts import Accounts
from web.errors import AccountError, LoginRefused, LoginThrottled
from web.passwords import hash_password, needs_rehash, verify_password

ROOT = Path(__file__).resolve().parents[2]
PW = "a-long-enough-password"


@pytest.fixture
def accounts(tmp_path: Path) -> Accounts:
    a = Accounts(connect(tmp_path / "state"), idle_s=600, max_age_s=3600, failures=5,
                 delay_s=30)
    a.add("wang", "technician", PW)
    return a


def test_the_state_folder_and_database_are_private(tmp_path: Path) -> None:
    connect(tmp_path / "state").close()
    assert stat.S_IMODE((tmp_path / "state").stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "state" / "state.sqlite3").stat().st_mode) == 0o600


def test_passwords_are_salted_scrypt_and_never_stored_as_given(accounts: Accounts) -> None:
    stored = accounts.conn.execute("SELECT password FROM users").fetchone()[0]
    assert stored.startswith("scrypt$32768$8$1$") and PW not in stored
    assert hash_password(PW) != hash_password(PW)  # a salt of its own each time
    assert verify_password(PW, stored) and not verify_password(PW + "x", stored)
    assert not verify_password(PW, "garbage") and not needs_rehash(stored)
    assert needs_rehash("scrypt$16384$8$1$AA==$AA==")


@pytest.mark.parametrize(("name", "role", "password", "says"), [
    ("Wang", "technician", PW, "lowercase"), ("li", "boss", PW, "role"),
    ("li", "finance", "short", "at least 10"), ("wang", "finance", PW, "exists"),
    ("li", "finance", " " + PW, "space")])
def test_bad_accounts_are_refused_with_a_reason(accounts: Accounts, name: str, role: str,
                                                password: str, says: str) -> None:
    with pytest.raises(AccountError, match=says):
        accounts.add(name, role, password)


def test_a_session_carries_its_user_role_and_csrf_token(accounts: Accounts) -> None:
    s = accounts.login("wang", PW, "10.0.0.1", now=1000.0)
    got = accounts.session(s.token, now=1001.0)
    assert got is not None and got.user.name == "wang" and got.user.role == "technician"
    assert got.csrf == s.csrf and len(s.csrf) >= 40
    assert not got.user.can("finance") and got.user.can("technician")
    # only a hash of the token is stored: the database alone opens no session
    assert accounts.conn.execute("SELECT count(*) FROM sessions WHERE token_hash = ?",
                                 (s.token,)).fetchone()[0] == 0


def test_sessions_expire_when_idle_and_at_their_maximum_age(accounts: Accounts) -> None:
    s = accounts.login("wang", PW, "10.0.0.1", now=1000.0)
    assert accounts.session(s.token, now=1000.0 + 601) is None  # idle too long
    s = accounts.login("wang", PW, "10.0.0.1", now=2000.0)
    for k in range(1, 7):  # used every 9 minutes: never idle, but ends after an hour
        assert accounts.session(s.token, now=2000.0 + k * 540) is not None
    assert accounts.session(s.token, now=2000.0 + 3601) is None


def test_logout_password_change_and_disabling_end_sessions(accounts: Accounts) -> None:
    s1 = accounts.login("wang", PW, "a", now=1.0)
    accounts.logout(s1.token)
    assert accounts.session(s1.token, now=2.0) is None
    s2 = accounts.login("wang", PW, "a", now=3.0)
    accounts.set_password("wang", PW + "-new")
    assert accounts.session(s2.token, now=4.0) is None
    s3 = accounts.login("wang", PW + "-new", "a", now=5.0)
    accounts.set_disabled("wang", True)
    assert accounts.session(s3.token, now=6.0) is None
    with pytest.raises(LoginRefused):
        accounts.login("wang", PW + "-new", "a", now=7.0)


def test_five_wrong_passwords_lock_the_name_and_the_wait_doubles(accounts: Accounts) -> None:
    for k in range(5):
        with pytest.raises(LoginRefused) as e:
            accounts.login("wang", "wrong-password", f"10.0.0.{k}", now=100.0 + k)
        assert not isinstance(e.value, LoginThrottled)
    with pytest.raises(LoginThrottled) as e:  # the right password, unchecked during the wait
        accounts.login("wang", PW, "10.0.0.9", now=105.0)
    assert e.value.retry_after_s == pytest.approx(30 - 1)
    with pytest.raises(LoginRefused):  # after the wait: one more wrong one doubles it
        accounts.login("wang", "wrong-password", "10.0.0.9", now=140.0)
    with pytest.raises(LoginThrottled) as e:
        accounts.login("wang", PW, "10.0.0.9", now=141.0)
    assert e.value.retry_after_s == pytest.approx(60 - 1)
    assert accounts.login("wang", PW, "10.0.0.9", now=201.0).user.name == "wang"
    # success forgets the name's failures
    with pytest.raises(LoginRefused) as e:
        accounts.login("wang", "wrong-password", "10.0.0.9", now=202.0)
    assert not isinstance(e.value, LoginThrottled)


def test_unknown_names_count_too_and_an_address_gets_four_times_the_allowance(
        accounts: Accounts) -> None:
    for k in range(19):  # a different unknown name each time: only the address adds up
        with pytest.raises(LoginRefused):
            accounts.login(f"guess{k}", "x" * 12, "192.0.2.7", now=10.0 + k)
    with pytest.raises(LoginRefused) as e:
        accounts.login("guess19", "x" * 12, "192.0.2.7", now=30.0)
    assert not isinstance(e.value, LoginThrottled)  # the 20th failure sets the lock
    with pytest.raises(LoginThrottled):
        accounts.login("wang", PW, "192.0.2.7", now=31.0)
    assert accounts.login("wang", PW, "192.0.2.8", now=31.0)  # another address is not locked


def test_pvrelief_users_add_reads_the_password_from_stdin(tmp_path: Path) -> None:
    config = tmp_path / "site.yaml"
    config.write_text(
        f"influxdb: {{spool_dir: {tmp_path / 'spool'}}}\n"
        "counties: [{id: c, plants: [{id: p, capacity_kwp_dc: 1, capacity_kw_ac: 1, "
        "latitude: 36, longitude: 100}]}]\n")
    run = [sys.executable, "-m", "pvrelief", "users"]
    env = dict(os.environ)
    added = subprocess.run([*run, "add", "zhao", "--role", "finance", "--config", str(config)],
                           input=PW + "\n", capture_output=True, text=True, cwd=ROOT, env=env)
    assert added.returncode == 0, added.stderr
    assert PW not in added.stdout + added.stderr
    weak = subprocess.run([*run, "add", "qian", "--role", "finance", "--config", str(config)],
                          input="short\n", capture_output=True, text=True, cwd=ROOT, env=env)
    assert weak.returncode == 2 and "at least 10" in weak.stderr
    listed = subprocess.run([*run, "list", "--config", str(config)], capture_output=True,
                            text=True, cwd=ROOT, env=env)
    assert listed.stdout.split() == ["zhao", "finance"]
    a = Accounts(connect(tmp_path / "state"))
    assert a.login("zhao", PW, "127.0.0.1").user.role == "finance"
