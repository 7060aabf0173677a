"""What the engine does while its database cannot be written: wait, probe, say so.

A tick's transaction cannot simply be retried: the loop has already changed its portfolio
and closed loop in memory when the write fails. So ``engine.app`` stops the loop, waits here
until the database answers again, and resumes the run from the ledger exactly as
``run.resume`` does after a restart (see docs/architecture.md, "When the database is gone").
"""

from __future__ import annotations

import logging
import signal
import sqlite3
import time
from types import FrameType

import psycopg
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from settings_service.dbconn import DbLimits

log = logging.getLogger("edgeloop")
_SLICE_S = 0.1  # a stop is noticed this fast while waiting


def is_outage(exc: BaseException) -> bool:
    """A failure of the database, not of the request: a connection that dropped, could not be
    made or ran past its deadline, a statement or lock timeout, SQLite's "database is
    locked", the pool's checkout timeout; raised through SQLAlchemy or by the driver. Retrying from the ledger is the answer to these."""
    if isinstance(exc, DBAPIError):
        return exc.connection_invalidated or isinstance(exc, OperationalError)
    # the same errors from a DBAPI cursor used directly (the settings probe reads through one)
    return isinstance(exc, PoolTimeout | sqlite3.OperationalError | psycopg.OperationalError)


def describe(exc: BaseException) -> str:
    """The driver's first line (``server closed the connection unexpectedly``)."""
    cause = getattr(exc, "orig", None) or exc
    lines = str(cause).strip().splitlines()
    return lines[0] if lines else type(cause).__name__


def probe(engine: Engine) -> None:
    """Raise unless the database answers and takes a write (SQLite: the write lock is free;
    both waits are bounded by the engine's limits)."""
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            conn.exec_driver_sql("BEGIN IMMEDIATE")
            conn.exec_driver_sql("ROLLBACK")
        else:
            conn.execute(text("SELECT 1"))


def _seconds(s: float) -> str:
    return f"{s:.0f}s" if s >= 10 else f"{round(s, 2):g}s"


class Outage:
    """One spell of an unreachable database, from the failure that started it.

    ``wait()`` sleeps with exponential backoff (``retry_s`` doubling to ``retry_max_s``)
    until :func:`probe` succeeds; Ctrl-C or SIGTERM ends the wait (it returns False). Every
    change of state is logged: unreachable, still unreachable, reachable again.
    """

    def __init__(self, engine: Engine, limits: DbLimits, error: BaseException) -> None:
        self.engine = engine
        self.limits = limits
        self.started = time.monotonic()
        self.delay = limits.retry_s
        self.stopped = False
        self._previous: dict[int, object] = {}
        log.warning(
            "ledger unreachable (%s): entries paused, retrying in %s",
            describe(error),
            _seconds(self.delay),
        )

    @property
    def elapsed_s(self) -> float:
        return time.monotonic() - self.started

    def __enter__(self) -> Outage:
        for s in (signal.SIGINT, signal.SIGTERM):
            self._previous[s] = signal.signal(s, self._stop)
        return self

    def __exit__(self, *exc: object) -> None:
        for s, handler in self._previous.items():
            signal.signal(s, handler)  # type: ignore[arg-type]

    def _stop(self, signum: int, _frame: FrameType | None) -> None:
        if not self.stopped:
            log.info(
                "stop requested while the ledger is unreachable (%s)", signal.Signals(signum).name
            )
        self.stopped = True

    def wait(self) -> bool:
        """Back off, then probe until the database answers: True, or False on a stop."""
        while True:
            deadline = time.monotonic() + self.delay
            while not self.stopped and time.monotonic() < deadline:
                time.sleep(min(_SLICE_S, max(0.0, deadline - time.monotonic())))
            if self.stopped:
                return False
            try:
                probe(self.engine)
            except Exception as exc:
                if not is_outage(exc):
                    raise
                self.failed(exc)
                continue
            return True

    def failed(self, exc: BaseException) -> None:
        """Another try failed: double the wait and say so."""
        self.delay = min(self.delay * 2, self.limits.retry_max_s)
        log.warning(
            "ledger still unreachable after %s (%s): retrying in %s",
            _seconds(self.elapsed_s),
            describe(exc),
            _seconds(self.delay),
        )

    def over(self, run_id: int) -> None:
        log.warning(
            "ledger reachable again after %s: run %d resumed from the ledger",
            _seconds(self.elapsed_s),
            run_id,
        )
