"""The store on a real PostgreSQL: one winner per parent, exact rollback, protected keys, NOTIFY."""

from __future__ import annotations

import threading

import psycopg
import pytest

from settings_service import (
    CHANNEL,
    SettingsConflict,
    SettingsStore,
    SettingsValidationError,
)
from settings_service.store import libpq_url

pytestmark = pytest.mark.postgres

SIGMA = "strategies.updown.gates.sigma.min_sigma"
KELLY = "strategies.updown.sizers.kelly.kelly_fraction"
MAX_STAKE = "strategies.updown.sizers.stake_cap.max_stake"


def test_two_concurrent_writers_on_the_same_parent_exactly_one_wins(settings_pg_url):
    stores = [SettingsStore(settings_pg_url) for _ in range(2)]
    try:
        for round_ in range(8):
            parent = stores[0].latest_id()
            barrier = threading.Barrier(2)
            results: list[object] = [None, None]

            def writer(
                i: int, parent: int = parent, barrier=barrier, results=results, round_=round_
            ) -> None:
                barrier.wait()
                try:
                    results[i] = stores[i].write(
                        {SIGMA: 1.0 + i + round_ / 10},
                        author=f"writer{i}",
                        author_kind="human",
                        reason="race",
                        expected_version=parent,
                    )
                except SettingsConflict as exc:
                    results[i] = exc

            threads = [threading.Thread(target=writer, args=(i,)) for i in range(2)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(30)
            wins = [r for r in results if not isinstance(r, SettingsConflict)]
            losses = [r for r in results if isinstance(r, SettingsConflict)]
            assert len(wins) == 1 and len(losses) == 1, results
            assert f"expected version {parent} but the latest is {parent + 1}" in str(losses[0])
            current = stores[0].current()
            assert current.id == parent + 1 and current.document == wins[0].document
        assert [v.id for v in stores[0].history()] == list(range(8, -1, -1))
    finally:
        for s in stores:
            s.close()


def test_rollback_restores_values_exactly(settings_pg_url):
    with SettingsStore(settings_pg_url) as store:
        first = {
            SIGMA: 0.1 + 0.2,
            KELLY: 1 / 3,
            MAX_STAKE: 12.345678901234567,
            "kill_switch": False,
        }
        v1 = store.write(first, author="a", author_kind="human", reason="r", expected_version=0)
        store.write(
            {SIGMA: 2.0, KELLY: None, "venue.slippage_ticks": 3},
            author="g",
            author_kind="governor",
            reason="retune",
            expected_version=1,
        )
        back = store.rollback(1, author="a", reason="v2 lost money")
        assert back.id == 3 and back.rollback_of == 1
        assert store.current().document == v1.document == first
        assert store.current().document[SIGMA] == 0.1 + 0.2
        assert store.diff(1, 3) == {}
        assert store.get(3).diff == {
            KELLY: [None, 1 / 3],
            SIGMA: [2.0, 0.1 + 0.2],
            "venue.slippage_ticks": [3, None],
        }


@pytest.mark.parametrize("kind", ["governor", "calibrator"])
def test_protected_keys_refuse_governor_and_calibrator(settings_pg_url, kind):
    with SettingsStore(settings_pg_url) as store:
        store.write(
            {"kill_switch": False}, author="a", author_kind="human", reason="r", expected_version=0
        )
        for key, value in [
            ("kill_switch", True),
            ("entries_paused", True),
            ("mode.name", "live"),
            ("strategies.updown.enabled", False),
        ]:
            with pytest.raises(SettingsValidationError) as info:
                store.write(
                    {key: value}, author="bot", author_kind=kind, reason="r", expected_version=1
                )
            assert str(info.value) == (
                f"{key}={value!r} is protected: only a human may change it, not a {kind}"
            )
        assert store.current().id == 1
        v2 = store.write(
            {"kill_switch": True},
            author="a",
            author_kind="human",
            reason="stop",
            expected_version=1,
        )
        assert v2.document == {"kill_switch": True}


def test_a_write_notifies_in_its_transaction_and_a_refusal_does_not(settings_pg_url):
    with (
        psycopg.connect(libpq_url(settings_pg_url), autocommit=True) as listener,
        SettingsStore(settings_pg_url) as store,
    ):
        listener.execute(f"LISTEN {CHANNEL}")
        with pytest.raises(SettingsValidationError):
            store.write(
                {SIGMA: 99.0}, author="a", author_kind="human", reason="r", expected_version=0
            )
        with pytest.raises(SettingsConflict):
            store.write(
                {SIGMA: 2.0}, author="a", author_kind="human", reason="r", expected_version=5
            )
        assert list(listener.notifies(timeout=0.2)) == []
        store.write({SIGMA: 2.0}, author="a", author_kind="human", reason="r", expected_version=0)
        got = list(listener.notifies(timeout=2.0, stop_after=1))
        assert [(n.channel, n.payload) for n in got] == [(CHANNEL, "1")]


def test_history_is_a_line_enforced_by_the_database(settings_pg_url):
    from sqlalchemy import text
    from sqlalchemy.exc import IntegrityError

    with SettingsStore(settings_pg_url) as store:
        store.write({SIGMA: 2.0}, author="a", author_kind="human", reason="r", expected_version=0)
        for sql in (
            "INSERT INTO settings_versions VALUES (3, 1, now(), 'x', 'human', 'r', '{}', '{}', NULL)",
            "INSERT INTO settings_versions VALUES (2, 0, now(), 'x', 'human', 'r', '{}', '{}', NULL)",
            "INSERT INTO settings_versions VALUES (2, 1, now(), 'x', 'robot', 'r', '{}', '{}', NULL)",
        ):
            with pytest.raises(IntegrityError), store.engine.begin() as conn:
                conn.execute(text(sql))
        assert store.latest_id() == 1


def test_a_writer_that_loses_the_race_at_insert_gets_a_conflict(settings_pg_url):
    """The other writer's row is in flight (inserted, not committed) when ours is inserted: the
    unique parent makes ours wait, then fail as a conflict with nothing written."""
    with (
        SettingsStore(settings_pg_url) as store,
        psycopg.connect(libpq_url(settings_pg_url)) as other,
    ):
        store.write({SIGMA: 2.0}, author="a", author_kind="human", reason="r", expected_version=0)
        other.execute(
            "INSERT INTO settings_versions VALUES "
            "(2, 1, now(), 'other', 'governor', 'first', '{\"x\": 1}', '{}', NULL)"
        )
        result: list[object] = []

        def ours() -> None:
            try:
                result.append(
                    store.write(
                        {SIGMA: 3.0},
                        author="a",
                        author_kind="human",
                        reason="r",
                        expected_version=1,
                    )
                )
            except SettingsConflict as exc:
                result.append(exc)

        thread = threading.Thread(target=ours)
        thread.start()
        thread.join(0.5)
        assert thread.is_alive()  # blocked on the in-flight row
        other.commit()
        thread.join(10)
        assert isinstance(result[0], SettingsConflict)
        assert (
            "expected version 1 but the latest is 2 (written by other (governor): 'first')"
            in str(result[0])
        )
        assert store.latest_id() == 2
