"""Which failures are outages, and the wait for the database to answer again (SQLite)."""

from __future__ import annotations

import logging
import os
import signal
import sqlite3
import threading
import time

import psycopg
import pytest
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from engine.drivers.outage import Outage, is_outage
from engine.ledger.db import make_engine
from settings_service.dbconn import DbLimits

FAST = DbLimits(busy_timeout_s=0.2, retry_s=0.1, retry_max_s=0.2)


def test_connection_timeout_and_lock_failures_are_outages_and_bugs_are_not():
    locked = OperationalError("INSERT", {}, sqlite3.OperationalError("database is locked"))
    dropped = DBAPIError("SELECT 1", {}, psycopg.DatabaseError("gone"), connection_invalidated=True)
    duplicate = IntegrityError("INSERT", {}, sqlite3.IntegrityError("UNIQUE constraint failed"))
    assert is_outage(locked) and is_outage(dropped)
    assert is_outage(psycopg.OperationalError("consuming input failed"))  # a raw cursor's
    assert not is_outage(duplicate) and not is_outage(ValueError("a bug"))


def _lock(path, seconds: float) -> threading.Thread:
    ready = threading.Event()

    def hold() -> None:
        conn = sqlite3.connect(path, isolation_level=None)
        conn.execute("BEGIN IMMEDIATE")
        ready.set()
        time.sleep(seconds)
        conn.execute("ROLLBACK")
        conn.close()

    thread = threading.Thread(target=hold, daemon=True)
    thread.start()
    ready.wait(5)
    return thread


def test_the_wait_backs_off_until_the_lock_is_free_and_says_so(sqlite_url, caplog):
    engine = make_engine(sqlite_url, FAST)
    holder = _lock(sqlite_url.removeprefix("sqlite:///"), 0.8)
    error = OperationalError("INSERT", {}, sqlite3.OperationalError("database is locked"))
    try:
        with caplog.at_level(logging.INFO, "edgeloop"), Outage(engine, FAST, error) as outage:
            assert outage.wait()
            outage.over(1)
    finally:
        holder.join(5)
        engine.dispose()
    text = caplog.text
    assert "ledger unreachable (database is locked): entries paused, retrying in 0.1s" in text
    assert "ledger still unreachable after" in text and "retrying in 0.2s" in text
    assert "ledger reachable again after" in text and outage.elapsed_s >= 0.8


def test_a_stop_ends_the_wait(sqlite_url):
    engine = make_engine(sqlite_url, FAST)
    holder = _lock(sqlite_url.removeprefix("sqlite:///"), 1.2)
    error = OperationalError("INSERT", {}, sqlite3.OperationalError("database is locked"))
    timer = threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGTERM))
    try:
        with Outage(engine, FAST, error) as outage:
            timer.start()
            t0 = time.monotonic()
            assert not outage.wait()
            assert time.monotonic() - t0 < 1.0
    finally:
        timer.cancel()
        holder.join(5)
        engine.dispose()
    assert signal.getsignal(signal.SIGTERM) is not outage._stop  # handlers given back


@pytest.fixture(autouse=True)
def _keep_sigterm():
    previous = signal.getsignal(signal.SIGTERM)
    yield
    signal.signal(signal.SIGTERM, previous)
