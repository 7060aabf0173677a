"""The breaker's state survives kill -9: the resumed run trips when the uninterrupted one did.

Reported against the old code: after kill -9 the equity peak restarted at the equity of the
restart, so a 3 % drawdown limit tripped 10 simulated minutes late and 17 extra orders went
out. Seed 2 on the lagging_mm simulator with a 2 % limit: equity peaks at 1,316.73 USD at 00:40,
settles at 1,307.41 at 00:45 (0.7 % down) and at 1,289.67 at 00:50 (2.1 %: the trip). The
engine is killed right after the 00:45 settlement and resumed: with the peak restarted at
1,307.41 the 00:50 drawdown would read 1.4 % and nothing would trip. (The path depends on the
strategies: when they change, pick the limit again from the settled positions' equity path.)
"""

from __future__ import annotations

import signal
import subprocess

from tests.helpers import ROOT, edgeloop_cmd, ledger_snapshot, query, run_edgeloop, wait_for

RUN = ("run.duration=75m", "seed=2", "adaptive.breaker.max_drawdown=0.02")
KILL_AFTER = "2026-01-05 00:45:00"  # a settlement below the peak; the trip comes at 00:50
SETTLED_SINCE = (
    f"SELECT count(*) FROM positions WHERE status = 'settled' AND closed_at >= '{KILL_AFTER}'"
)


def test_a_drawdown_trip_after_kill_9_comes_exactly_when_it_would_have(sqlite_url, tmp_path):
    reference_url = f"sqlite:///{tmp_path / 'reference.db'}"
    done = run_edgeloop(*RUN, "run.speed=max", f"db.url={reference_url}")
    assert done.returncode == 0, done.stderr
    reference = ledger_snapshot(reference_url)
    trips = [e for e in reference["breaker_events"] if e[1] == "trip"]
    assert [e[2] for e in trips] == ["drawdown"], reference["breaker_events"]
    assert str(trips[0][0]) > KILL_AFTER  # the trip comes after the kill below

    proc = subprocess.Popen(
        edgeloop_cmd(*RUN, "run.speed=240", f"db.url={sqlite_url}"),
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        reached = wait_for(
            lambda: query(sqlite_url, SETTLED_SINCE)[0][0] > 0,
            timeout=120, every=0.05,
        )  # fmt: skip
        assert reached and proc.poll() is None, "the run ended before it could be killed"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    partial = ledger_snapshot(sqlite_url)
    assert partial["breaker_events"] == []  # killed before the trip, after the peak
    assert partial["breaker_state"][0][5] > partial["breaker_state"][0][3] + 1000.0  # peak > equity

    again = run_edgeloop(*RUN, "run.speed=max", "run.resume=last", f"db.url={sqlite_url}")
    assert again.returncode == 0, again.stderr
    resumed = ledger_snapshot(sqlite_url)
    assert resumed["breaker_events"] == reference["breaker_events"]
    assert resumed["breaker_state"] == reference["breaker_state"]
    assert resumed == reference
