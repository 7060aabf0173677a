"""On SQLite the watcher polls: every new version once, in order."""

from __future__ import annotations

import time

from settings_service import SettingsStore, watch

SIGMA = "strategies.updown.gates.sigma.min_sigma"


def wait_for(predicate, timeout=5.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.01)
    return False


def test_polling_delivers_each_new_version_once_in_order(sqlite_url):
    store = SettingsStore(sqlite_url)
    store.write({SIGMA: 1.6}, author="t", author_kind="human", reason="r", expected_version=0)
    seen: list[tuple[int, dict]] = []
    watcher = watch(sqlite_url, lambda v, doc: seen.append((v, doc)), poll_s=0.05)
    try:
        assert watcher.last_version == 1  # the baseline is not a change
        for i in range(5):
            store.write(
                {SIGMA: 2.0 + i},
                author="t",
                author_kind="human",
                reason="r",
                expected_version=1 + i,
            )
        assert wait_for(lambda: len(seen) == 5)
        time.sleep(0.2)
        assert [v for v, _ in seen] == [2, 3, 4, 5, 6]
        assert seen[-1][1] == {SIGMA: 6.0}
    finally:
        watcher.stop()
        store.close()
    assert not watcher.running


def test_since_replays_versions_after_it_and_a_failing_callback_does_not_stop_the_watch(
    sqlite_url,
):
    store = SettingsStore(sqlite_url)
    for i in range(3):
        store.write(
            {SIGMA: 2.0 + i}, author="t", author_kind="human", reason="r", expected_version=i
        )
    seen = []

    def on_change(version, doc):
        seen.append(version)
        if version == 2:
            raise RuntimeError("subscriber bug")

    with watch(sqlite_url, on_change, poll_s=0.05, since=1):
        assert wait_for(lambda: seen == [2, 3])
        store.write({SIGMA: 9.0}, author="t", author_kind="human", reason="r", expected_version=3)
        assert wait_for(lambda: seen == [2, 3, 4])
    store.close()
