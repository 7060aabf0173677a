"""The settings listener finds a dead connection by itself and reconnects.

The server is frozen (SIGSTOP): no notification can arrive and the connection looks open
(the kernel still acknowledges), so only the listener's own heartbeat (the resync read
every ``resync_s``) under the client-side deadline can tell; after SIGCONT it reconnects,
and a version written then is delivered.
"""

from __future__ import annotations

import time

from settings_service import SettingsStore, watch
from settings_service.dbconn import DbLimits
from tests.helpers import wait_for

LIMITS = DbLimits(deadline_s=1.0, connect_timeout_s=2, statement_timeout_s=0.5)
RESYNC_S = 0.5


def test_the_listener_notices_a_frozen_server_and_reconnects(pg_cluster):
    url = pg_cluster.new_database()
    seen: list[int] = []
    with watch(url, lambda v, _doc: seen.append(v), resync_s=RESYNC_S, limits=LIMITS) as w:
        first_pid = w.backend_pid
        assert first_pid and w.connects == 1
        frozen = time.monotonic()
        pg_cluster.freeze()
        try:
            assert wait_for(lambda: w.backend_pid is None, timeout=10, every=0.02)
            noticed = time.monotonic() - frozen
        finally:
            pg_cluster.thaw()
        assert wait_for(lambda: w.connects == 2, timeout=10, every=0.02)
        with SettingsStore(url) as store:
            version = store.write(
                {"kill_switch": True}, author="ops", author_kind="human",
                reason="fault test", expected_version=0,
            )  # fmt: skip
        assert wait_for(lambda: seen == [version.id], timeout=5, every=0.02)
        assert w.running and w.backend_pid not in (None, first_pid)
    print(f"frozen server noticed after {noticed:.2f}s")
    # the next resync (<= RESYNC_S) waits out the deadline, then the socket is shut
    assert noticed < RESYNC_S + LIMITS.deadline_s + 1.0
