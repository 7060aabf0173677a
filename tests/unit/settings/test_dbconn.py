"""Bounded waits: the limits' checks and mapping, SQLite's busy timeout, the watchdog."""

from __future__ import annotations

import socket
import sqlite3
import time
from types import SimpleNamespace

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from settings_service.dbconn import DbLimits, Watchdog
from settings_service.store import make_engine
from tests.helpers import wait_for


@pytest.mark.parametrize(
    ("field", "value"),
    [("deadline_s", 0), ("statement_timeout_s", -1), ("busy_timeout_s", True),
     ("keepalives_count", 101), ("connect_timeout_s", "5")],
)  # fmt: skip
def test_no_limit_may_be_unbounded_or_nonsense(field, value):
    with pytest.raises(ValueError, match=rf"^{field}="):
        DbLimits(**{field: value})


def test_the_retry_cap_is_not_below_the_first_wait():
    with pytest.raises(ValueError, match="retry_max_s=1 must be >= retry_s=2"):
        DbLimits(retry_s=2, retry_max_s=1)


def test_the_limits_become_libpq_parameters():
    params = DbLimits(
        connect_timeout_s=0.5, statement_timeout_s=1.5, lock_timeout_s=0.25, tcp_user_timeout_s=7
    ).libpq()
    assert params == {
        "connect_timeout": 2,  # libpq: whole seconds, at least 2
        "keepalives": 1,
        "keepalives_idle": 10,
        "keepalives_interval": 5,
        "keepalives_count": 3,
        "tcp_user_timeout": 7000,
        "options": "-c statement_timeout=1500 -c lock_timeout=250",
    }


def test_a_sqlite_lock_wait_ends_at_the_busy_timeout(tmp_path):
    path = tmp_path / "locked.db"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("PRAGMA journal_mode=WAL")  # as the engine has it: readers never wait
    holder.execute("CREATE TABLE t (x INTEGER)")
    holder.execute("BEGIN IMMEDIATE")
    engine = make_engine(f"sqlite:///{path}", DbLimits(busy_timeout_s=0.3))
    try:
        t0 = time.monotonic()
        with pytest.raises(OperationalError, match="database is locked"), engine.begin() as conn:
            conn.execute(text("INSERT INTO t VALUES (1)"))
        assert 0.25 < time.monotonic() - t0 < 3
    finally:
        holder.execute("ROLLBACK")
        holder.close()
        engine.dispose()


class FakeConnection:
    """What the watchdog reads of a psycopg connection, on one end of a socket pair."""

    def __init__(self) -> None:
        self.sock, self.peer = socket.socketpair()
        self.closed = False
        self.info = SimpleNamespace(transaction_status=0)

    def fileno(self) -> int:
        return self.sock.fileno()

    def is_shut(self) -> bool:
        self.peer.settimeout(0)
        try:
            return self.peer.recv(1) == b""  # end of file: shut down
        except BlockingIOError:
            return False


def test_the_watchdog_shuts_a_command_that_runs_past_its_deadline():
    dog = Watchdog(period_s=0.02)
    conn = FakeConnection()
    guard = dog.watch(conn, deadline_s=0.3)
    guard.arm()
    conn.info.transaction_status = 1  # ACTIVE: a command is in progress
    t0 = time.monotonic()
    assert wait_for(conn.is_shut, timeout=3, every=0.01)
    assert 0.3 <= time.monotonic() - t0 < 1.5 and dog.cuts == 1


def test_the_watchdog_leaves_idle_and_busy_but_armed_connections_alone():
    dog = Watchdog(period_s=0.02)
    idle, busy = FakeConnection(), FakeConnection()
    dog.watch(idle, deadline_s=0.1)
    guard = dog.watch(busy, deadline_s=0.1)
    busy.info.transaction_status = 1
    end = time.monotonic() + 0.6
    while time.monotonic() < end:  # back-to-back quick commands, each armed
        guard.arm()
        time.sleep(0.01)
    assert not idle.is_shut() and not busy.is_shut() and dog.cuts == 0
