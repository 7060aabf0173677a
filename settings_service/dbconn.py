"""Bounded waits on the database, for every engine edgeloop makes (``db.limits``).

The ledger (:func:`engine.ledger.db.make_engine`) and the settings store
(:func:`settings_service.store.make_engine`) build their engines with
:func:`engine_for`; it lives in this package because ``settings_service`` is the lower one
(it imports nothing of ``engine``).

On PostgreSQL the server-side limits (``statement_timeout``, ``lock_timeout``), the connect
timeout, TCP keepalives and ``tcp_user_timeout`` bound a slow query, a lock wait, a server
that does not answer a connect and a network path that stopped acknowledging. None of them
helps when the server's processes are frozen (SIGSTOP, a stalled VM): the kernel still
acknowledges, so a query already sent waits forever. For that there is the
:class:`Watchdog`: one daemon thread that shuts down the socket of a connection whose
command has been in progress for longer than ``deadline_s``. The blocked call then fails at
once with an ``OperationalError`` and SQLAlchemy invalidates the connection.
(``cancel()`` would not do: it needs the postmaster, which is frozen too.)

On SQLite the only wait is a lock held by another writer: ``busy_timeout_s`` bounds it.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import socket
import threading
import time
import weakref
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url

log = logging.getLogger("edgeloop.db")
_ACTIVE = 1  # libpq PQTRANS_ACTIVE: a command is in progress


@dataclass(frozen=True)
class DbLimits:
    """How long any wait on the database may last (``db.limits``); seconds unless named.

    PostgreSQL: ``connect_timeout_s`` (libpq, whole seconds), ``statement_timeout_s`` and
    ``lock_timeout_s`` (server side, every session), ``deadline_s`` (client side: the
    watchdog's limit on one command, above ``statement_timeout_s`` so a slow query is
    cancelled by the server first), ``keepalives_idle_s`` / ``keepalives_interval_s`` /
    ``keepalives_count`` (a silent idle connection is declared dead after idle + interval *
    count) and ``tcp_user_timeout_s`` (unacknowledged data). SQLite: ``busy_timeout_s``,
    the longest wait for another writer's lock. Both: ``retry_s`` doubling up to
    ``retry_max_s`` between two tries to reach a database that failed.
    """

    connect_timeout_s: float = 5.0
    statement_timeout_s: float = 10.0
    lock_timeout_s: float = 5.0
    deadline_s: float = 15.0
    keepalives_idle_s: int = 10
    keepalives_interval_s: int = 5
    keepalives_count: int = 3
    tcp_user_timeout_s: float = 15.0
    busy_timeout_s: float = 10.0
    retry_s: float = 1.0
    retry_max_s: float = 30.0

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            limit = 100 if f.name == "keepalives_count" else 3600
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"{f.name}={value!r} must be a number")
            if not 0 < value <= limit:
                raise ValueError(
                    f"{f.name}={value!r} must be in (0, {limit}] (no wait is unbounded)"
                )
        if self.retry_max_s < self.retry_s:
            raise ValueError(
                f"retry_max_s={self.retry_max_s!r} must be >= retry_s={self.retry_s!r}"
            )

    def libpq(self) -> dict[str, Any]:
        """The connection parameters that carry these limits (``connect_args`` for psycopg)."""
        server = (
            f"-c statement_timeout={_ms(self.statement_timeout_s)} "
            f"-c lock_timeout={_ms(self.lock_timeout_s)}"
        )
        return {
            # libpq takes whole seconds (0 would mean "none" or "the system's") and 1 as 2
            "connect_timeout": max(2, math.ceil(self.connect_timeout_s)),
            "keepalives": 1,
            "keepalives_idle": math.ceil(self.keepalives_idle_s),
            "keepalives_interval": math.ceil(self.keepalives_interval_s),
            "keepalives_count": math.ceil(self.keepalives_count),
            "tcp_user_timeout": _ms(self.tcp_user_timeout_s),
            "options": server,
        }


def _ms(seconds: float) -> int:
    return max(1, round(seconds * 1000))


_default = DbLimits()


def set_default_limits(limits: DbLimits) -> None:
    """The limits every engine made after this call gets unless it is given its own (the app
    sets ``db.limits`` once at start, so engines that code builds deep inside, such as the
    settings store's, get them too)."""
    global _default
    _default = limits


def default_limits() -> DbLimits:
    return _default


# -- the watchdog ---------------------------------------------------------------------------


class Guard:
    """One watched connection. :meth:`arm` when a command is sent (SQLAlchemy's events do it
    for an engine's connections); a command sent without it is still watched."""

    __slots__ = ("ref", "deadline_s", "since", "busy_since", "__weakref__")

    def __init__(self, conn: Any, deadline_s: float) -> None:
        self.ref = weakref.ref(conn)
        self.deadline_s = deadline_s
        self.since = time.monotonic()  # the last arm
        self.busy_since: float | None = None  # first of the checks in a row that saw ACTIVE

    def arm(self) -> None:
        self.since = time.monotonic()


class Watchdog:
    """A daemon thread that shuts down the socket of a psycopg connection whose command has
    run past its deadline.

    Every ``period_s`` it asks libpq whether a command is in progress on each watched
    connection (``ACTIVE``; an idle connection never is, so nothing needs disarming). A
    connection is cut when every check for ``deadline_s`` saw it ACTIVE and it was not armed
    in that time. The first rule alone would let back-to-back quick commands look like one
    long one; the second alone would cut a quick command sent without an arm (SQLAlchemy's
    pre-ping, a raw cursor) on a connection armed long ago.
    """

    def __init__(self, period_s: float = 0.2) -> None:
        self.period_s = period_s
        self.cuts = 0
        self._guards: weakref.WeakSet[Guard] = weakref.WeakSet()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def watch(self, conn: Any, deadline_s: float) -> Guard:
        guard = Guard(conn, deadline_s)
        with self._lock:
            self._guards.add(guard)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="db-watchdog", daemon=True)
                self._thread.start()
        return guard

    def forget(self, guard: Guard) -> None:
        with self._lock:
            self._guards.discard(guard)

    def _run(self) -> None:
        while True:
            time.sleep(self.period_s)
            with self._lock:
                guards = list(self._guards)
            for guard in guards:
                try:
                    self._check(guard, time.monotonic())
                except Exception:  # noqa: BLE001 - the watchdog must outlive any one connection
                    log.exception("db watchdog: check failed")

    def _check(self, guard: Guard, now: float) -> None:
        conn = guard.ref()
        if conn is None:
            self.forget(guard)
            return
        if conn.closed or conn.info.transaction_status != _ACTIVE:
            guard.busy_since = None
            return
        if guard.busy_since is None:
            guard.busy_since = now
        waited = now - max(guard.since, guard.busy_since)
        if waited < guard.deadline_s:
            return
        guard.busy_since = None
        self.cuts += 1
        log.warning(
            "database call still waiting after %.1fs (deadline %.1fs): shutting its connection",
            waited,
            guard.deadline_s,
        )
        shut(conn)


def shut(conn: Any) -> None:
    """Shut down ``conn``'s socket (both directions): whatever waits on it fails at once."""
    try:
        sock = socket.socket(fileno=os.dup(conn.fileno()))
    except Exception:  # noqa: BLE001 - closed meanwhile (psycopg raises its own error then)
        return
    with sock, contextlib.suppress(OSError):  # the dup is closed, the socket is shut
        sock.shutdown(socket.SHUT_RDWR)


WATCHDOG = Watchdog()


def guard_engine(engine: Engine, deadline_s: float, watchdog: Watchdog = WATCHDOG) -> None:
    """Put every connection of ``engine`` (psycopg) under ``watchdog``: each statement,
    commit and rollback sent through it may wait ``deadline_s`` at most."""

    @event.listens_for(engine, "connect")
    def _watch(dbapi_conn: Any, record: Any) -> None:
        record.info["deadline"] = watchdog.watch(dbapi_conn, deadline_s)

    @event.listens_for(engine, "close")
    def _forget(_dbapi_conn: Any, record: Any) -> None:
        guard = record.info.pop("deadline", None)
        if guard is not None:
            watchdog.forget(guard)

    @event.listens_for(engine, "checkout")
    def _arm_checkout(_dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        _arm_record(record)

    @event.listens_for(engine, "reset")
    def _arm_reset(_dbapi_conn: Any, record: Any, _state: Any) -> None:
        _arm_record(record)

    def _arm(conn: Any, *_rest: Any) -> None:
        if not conn.invalidated:  # an invalidated connection sends nothing
            _arm_record(conn.connection)

    event.listen(engine, "before_cursor_execute", _arm)
    event.listen(engine, "commit", _arm)
    event.listen(engine, "rollback", _arm)


def _arm_record(record: Any) -> None:
    guard = record.info.get("deadline")
    if guard is not None:
        guard.arm()


# -- engines ----------------------------------------------------------------------------------


def engine_for(
    url: str | URL, limits: DbLimits | None = None, *, pragmas: tuple[str, ...] = (), **kwargs: Any
) -> Engine:
    """An engine for ``url`` whose every wait is bounded by ``limits`` (default:
    :func:`default_limits`).

    SQLite: the parent folder is created, ``pragmas`` run on every new connection, and a
    lock wait lasts ``busy_timeout_s`` at most. PostgreSQL: pre-ping, the libpq limits of
    :meth:`DbLimits.libpq` (``connect_args`` given here win) and, with psycopg, the watchdog.
    ``kwargs`` go to :func:`sqlalchemy.create_engine`.
    """
    limits = limits or _default
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        connect_args = {"timeout": limits.busy_timeout_s, **kwargs.pop("connect_args", {})}
        engine = create_engine(parsed, connect_args=connect_args, **kwargs)

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            for pragma in pragmas:
                cur.execute(f"PRAGMA {pragma}")
            cur.close()

        return engine
    connect_args = {**limits.libpq(), **kwargs.pop("connect_args", {})}
    engine = create_engine(parsed, pool_pre_ping=True, connect_args=connect_args, **kwargs)
    if engine.dialect.driver == "psycopg":
        guard_engine(engine, limits.deadline_s)
    return engine
