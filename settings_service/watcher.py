"""Subscribers: ``watch(url, on_change)`` calls ``on_change(version_id, document)`` for every new
settings version, in order, at most once per version.

On PostgreSQL a background thread LISTENs on ``edgeloop_settings`` (a write
NOTIFYs in its own transaction). A notification only says "look": the thread
then reads every version newer than the last one it delivered. It also reads
on every (re)connect and every ``resync_s`` seconds, so a notification lost
while the connection was down costs at most ``resync_s``, never a version. A
dropped connection is retried with backoff (0.1 s doubling to 5 s). On
SQLite, which has no NOTIFY, the thread polls every ``poll_s`` seconds.

The resync is also the heartbeat: a connection that died silently (a frozen server, a
half-open TCP connection) is found by the next resync, whose read may wait ``deadline_s``
at most (``db.limits``, see :mod:`settings_service.dbconn`), or sooner by TCP keepalives;
then the thread reconnects and resyncs, so nothing is missed.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from settings_service.dbconn import WATCHDOG, DbLimits, Guard, default_limits
from settings_service.models import SettingsVersionRow
from settings_service.store import CHANNEL, libpq_url, make_engine, sqlalchemy_url

log = logging.getLogger("edgeloop.settings")

OnChange = Callable[[int, dict[str, Any]], None]
APPLICATION_NAME = "edgeloop-settings-watch"
_WAKE_S = 0.25  # longest wait inside a LISTEN before checking for stop()
_BACKOFF_S = (0.1, 5.0)


class Watcher:
    """The handle :func:`watch` returns: a daemon thread; ``stop()`` ends it."""

    def __init__(
        self,
        url: str | None,
        on_change: OnChange,
        *,
        resync_s: float = 5.0,
        poll_s: float = 1.0,
        stop_event: threading.Event | None = None,
        since: int | None = None,
        limits: DbLimits | None = None,
    ) -> None:
        self.url = sqlalchemy_url(url)
        self._url = self.url.render_as_string(hide_password=False)
        self.on_change = on_change
        self.resync_s = resync_s
        self.poll_s = poll_s
        self.limits = limits or default_limits()
        self._stop = stop_event or threading.Event()
        self.last_version = since
        self.backend_pid: int | None = None
        self.connects = 0
        self.is_postgres = self.url.get_backend_name() == "postgresql"
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="settings-watch", daemon=True)

    def start(self, wait_s: float = 10.0) -> Watcher:
        """Start the thread; return once it has read its baseline (or after ``wait_s``)."""
        self._thread.start()
        self._ready.wait(wait_s)
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._thread.join(timeout)

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def __enter__(self) -> Watcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _run(self) -> None:
        try:
            self._listen() if self.is_postgres else self._poll()
        finally:
            self._ready.set()

    # delivery

    def _deliver(self, rows: list[tuple[int, dict[str, Any]]]) -> None:
        for version_id, document in rows:
            if self.last_version is not None and version_id <= self.last_version:
                continue
            self.last_version = version_id
            try:
                self.on_change(version_id, document)
            except Exception:  # a subscriber's bug must not stop the watch
                log.exception("settings on_change failed for version %s", version_id)

    def _baseline(self, latest: int) -> None:
        if self.last_version is None:
            self.last_version = latest
        self._ready.set()

    # PostgreSQL: LISTEN, resync on reconnect and on a timer

    def _listen(self) -> None:
        import psycopg

        backoff = _BACKOFF_S[0]
        while not self._stop.is_set():
            try:
                with psycopg.connect(
                    libpq_url(self._url),
                    autocommit=True,
                    application_name=APPLICATION_NAME,
                    **self.limits.libpq(),
                ) as conn:
                    guard = WATCHDOG.watch(conn, self.limits.deadline_s)
                    try:
                        conn.execute(f"LISTEN {CHANNEL}")
                        self.backend_pid = conn.info.backend_pid
                        self.connects += 1
                        backoff = _BACKOFF_S[0]
                        self._listen_on(conn, guard)
                    finally:
                        WATCHDOG.forget(guard)
            except psycopg.Error as exc:
                self.backend_pid = None
                log.warning("settings watch: connection lost (%s); retrying in %.1fs", exc, backoff)
                self._stop.wait(backoff)
                backoff = min(backoff * 2, _BACKOFF_S[1])

    def _listen_on(self, conn: Any, guard: Guard) -> None:
        guard.arm()
        self._resync_pg(conn)
        next_resync = time.monotonic() + self.resync_s
        while not self._stop.is_set():
            wait = max(0.0, min(_WAKE_S, next_resync - time.monotonic()))
            notified = any(True for _ in conn.notifies(timeout=wait, stop_after=1))
            if notified or time.monotonic() >= next_resync:
                guard.arm()
                self._resync_pg(conn)
                next_resync = time.monotonic() + self.resync_s

    def _resync_pg(self, conn: Any) -> None:
        if self.last_version is None:
            row = conn.execute("SELECT coalesce(max(id), 0) FROM settings_versions").fetchone()
            self._baseline(int(row[0]))
            return
        rows = conn.execute(
            "SELECT id, document FROM settings_versions WHERE id > %s ORDER BY id",
            (self.last_version,),
        ).fetchall()
        self._deliver([(int(r[0]), r[1]) for r in rows])
        self._ready.set()

    # SQLite: poll

    def _poll(self) -> None:
        engine = make_engine(self._url, self.limits)
        try:
            while not self._stop.is_set():
                try:
                    self._resync_sa(engine)
                except Exception:
                    log.exception("settings watch: poll failed; retrying")
                self._stop.wait(self.poll_s)
        finally:
            engine.dispose()

    def _resync_sa(self, engine: Any) -> None:
        table = SettingsVersionRow
        with Session(engine) as session:
            if self.last_version is None:
                latest = session.scalar(select(table.id).order_by(table.id.desc()).limit(1))
                self._baseline(latest or 0)
                return
            stmt = select(table.id, table.document).where(table.id > self.last_version)
            rows = session.execute(stmt.order_by(table.id)).all()
        self._deliver([(int(i), dict(d)) for i, d in rows])
        self._ready.set()


def watch(
    url: str | None,
    on_change: OnChange,
    *,
    resync_s: float = 5.0,
    poll_s: float = 1.0,
    stop_event: threading.Event | None = None,
    since: int | None = None,
    limits: DbLimits | None = None,
) -> Watcher:
    """Start watching ``url``'s settings versions; returns the running :class:`Watcher`.

    ``since``: deliver every version after this id. ``None`` takes the latest
    version at start as the baseline (not delivered); to miss nothing between
    reading the current version and subscribing, pass
    ``since=store.current().id``. ``limits``: the bounds on every wait (default: the
    process's, :func:`settings_service.dbconn.default_limits`).
    """
    return Watcher(
        url,
        on_change,
        resync_s=resync_s,
        poll_s=poll_s,
        stop_event=stop_event,
        since=since,
        limits=limits,
    ).start()
