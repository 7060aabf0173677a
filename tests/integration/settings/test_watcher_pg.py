"""LISTEN/NOTIFY subscribers converge even when a notification is lost."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

import psycopg
import pytest
from sqlalchemy import insert

from settings_service import SettingsStore, watch
from settings_service.models import SettingsVersionRow
from settings_service.store import libpq_url
from settings_service.watcher import APPLICATION_NAME

pytestmark = pytest.mark.postgres

SIGMA = "strategies.updown.gates.sigma.min_sigma"
RESYNC_S = 1.0


class Seen:
    def __init__(self) -> None:
        self.versions: list[tuple[int, dict, float]] = []
        self.event = threading.Event()

    def __call__(self, version: int, document: dict) -> None:
        self.versions.append((version, document, time.monotonic()))
        self.event.set()

    @property
    def ids(self) -> list[int]:
        return [v for v, _, _ in self.versions]

    def wait_for(self, version: int, timeout: float) -> float | None:
        """Seconds until ``version`` arrived, or None."""
        start = time.monotonic()
        while time.monotonic() - start < timeout:
            for v, _, t in self.versions:
                if v == version:
                    return t - start
            time.sleep(0.005)
        return None


def write(store: SettingsStore, value: float) -> int:
    v = store.latest_id()
    return store.write(
        {SIGMA: value}, author="t", author_kind="human", reason="r", expected_version=v
    ).id


def test_each_version_is_delivered_once_in_order_with_its_document(settings_pg_url):
    seen = Seen()
    with SettingsStore(settings_pg_url) as store:
        write(store, 1.6)
        with watch(settings_pg_url, seen, resync_s=RESYNC_S) as watcher:
            assert watcher.last_version == 1 and watcher.backend_pid
            for i in range(10):
                write(store, 2.0 + i / 10)
            assert seen.wait_for(11, 3.0) is not None
            time.sleep(RESYNC_S + 0.2)  # a resync must not deliver anything twice
        assert seen.ids == list(range(2, 12))
        assert seen.versions[-1][1] == {SIGMA: 2.9}


def test_a_notify_arrives_fast(settings_pg_url):
    seen = Seen()
    with SettingsStore(settings_pg_url) as store, watch(settings_pg_url, seen, resync_s=60):
        latencies = []
        for i in range(5):
            start = time.monotonic()
            version = write(store, 2.0 + i / 10)
            assert seen.wait_for(version, 2.0) is not None
            latencies.append(seen.versions[-1][2] - start)
        assert max(latencies) < 0.5  # resync is 60 s: only NOTIFY can be this fast


def test_a_listener_whose_connection_drops_during_the_write_converges_within_resync(
    settings_pg_url,
):
    seen = Seen()
    with (
        SettingsStore(settings_pg_url) as store,
        watch(settings_pg_url, seen, resync_s=RESYNC_S, since=0) as watcher,
    ):
        write(store, 1.7)
        assert seen.wait_for(1, 2.0) is not None
        old_pid = watcher.backend_pid
        with psycopg.connect(libpq_url(settings_pg_url), autocommit=True) as admin:
            killed = admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE application_name = %s AND datname = current_database()",
                (APPLICATION_NAME,),
            ).fetchall()
            assert killed == [(True,)]
            version = write(store, 2.2)  # its NOTIFY goes to nobody
            write_done = time.monotonic()
        took = seen.wait_for(version, RESYNC_S + 1.0)
        assert took is not None, seen.ids
        assert time.monotonic() - write_done <= RESYNC_S + 0.5
        assert watcher.backend_pid != old_pid and watcher.connects == 2
        assert seen.ids == [1, 2] and seen.versions[-1][1] == {SIGMA: 2.2}


def test_a_lost_notification_is_caught_by_the_resync_timer(settings_pg_url):
    """A version that arrives without a NOTIFY (the listener's connection stays up)."""
    seen = Seen()
    with SettingsStore(settings_pg_url) as store, watch(settings_pg_url, seen, resync_s=RESYNC_S):
        row = {
            "id": 1,
            "parent_id": 0,
            "created_at": datetime.now(UTC),
            "author": "t",
            "author_kind": "human",
            "reason": "silent",
            "document": {SIGMA: 2.4},
            "diff": {SIGMA: [None, 2.4]},
        }
        with store.engine.begin() as conn:
            conn.execute(insert(SettingsVersionRow), row)
        start = time.monotonic()
        assert seen.wait_for(1, RESYNC_S + 1.0) is not None
        assert time.monotonic() - start <= RESYNC_S + 0.5
        assert seen.versions[0][1] == {SIGMA: 2.4}


def test_the_watcher_reconnects_after_the_database_refuses_it_for_a_while(settings_pg_url):
    """Terminated repeatedly: it keeps retrying with backoff, then catches up."""
    seen = Seen()
    with (
        SettingsStore(settings_pg_url) as store,
        watch(settings_pg_url, seen, resync_s=RESYNC_S) as watcher,
    ):
        with psycopg.connect(libpq_url(settings_pg_url), autocommit=True) as admin:
            for _ in range(3):
                admin.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE application_name = %s AND datname = current_database()",
                    (APPLICATION_NAME,),
                )
                time.sleep(0.15)
        version = write(store, 3.0)
        assert seen.wait_for(version, 6.0) is not None
        assert watcher.connects >= 2 and seen.ids == [version]
    assert not watcher.running
