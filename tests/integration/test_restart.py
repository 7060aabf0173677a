"""No duplicate signals or orders after a restart, on SQLite and on PostgreSQL.

The engine is killed with SIGKILL in the middle of a run (no chance to clean
up), resumed on the same database (``run.resume=last``), and must end with
exactly the ledger of a run that was never interrupted: its orders in flight,
the venue's latency draws, depleted levels and reverted fills included (the
default venue models rejects near a window's end and reverts).
"""

from __future__ import annotations

import signal
import subprocess
import time

from tests.helpers import ROOT, edgeloop_cmd, ledger_snapshot, query, run_edgeloop

RUN = ("run.duration=40m", "seed=11", "sim=jumpy")


def _count(url: str, table: str) -> int:
    return query(url, f"SELECT count(*) FROM {table}")[0][0]


def test_kill_mid_run_and_restart_repeats_nothing(db_url, tmp_path):
    # The reference: the same run, never interrupted, on its own SQLite file.
    reference_url = f"sqlite:///{tmp_path / 'reference.db'}"
    done = run_edgeloop(*RUN, "run.speed=max", f"db.url={reference_url}", "db.migrate=true")
    assert done.returncode == 0, done.stderr
    reference = ledger_snapshot(reference_url)
    assert len(reference["orders"]) > 0, (
        "the reference run must trade for this test to mean anything"
    )

    # Kill -9 once the run has written some orders but before it is done.
    proc = subprocess.Popen(
        edgeloop_cmd(*RUN, "run.speed=1200", f"db.url={db_url}", "db.migrate=true"),
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            if _count(db_url, "orders") >= 1:
                break
            time.sleep(0.05)
        assert proc.poll() is None, "the run ended before it could be killed; slow it down"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    partial = ledger_snapshot(db_url)
    assert 0 < len(partial["orders"]) < len(reference["orders"])

    again = run_edgeloop(
        *RUN, "run.speed=max", "run.resume=last", f"db.url={db_url}", "db.migrate=true"
    )
    assert again.returncode == 0, again.stderr
    assert "resumed run 1 at" in again.stderr + again.stdout
    assert ledger_snapshot(db_url) == reference
    assert query(db_url, "SELECT id, status FROM runs") == [(1, "finished")]

    # Resuming a finished run writes nothing at all.
    before = ledger_snapshot(db_url)
    third = run_edgeloop(*RUN, "run.speed=max", "run.resume=1", f"db.url={db_url}")
    assert third.returncode == 0, third.stderr
    assert ledger_snapshot(db_url) == before


def test_sigint_stops_cleanly_between_ticks(sqlite_url):
    proc = subprocess.Popen(
        edgeloop_cmd("run.duration=2h", "seed=3", "run.speed=600", f"db.url={sqlite_url}"),
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    # Interrupt once it is trading (a fixed sleep can land in Hydra's start-up on a busy machine).
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if query(sqlite_url, "SELECT count(*) FROM markets")[0][0] > 0:
                break
        except Exception:  # noqa: BLE001 - the schema is not there yet
            pass
        time.sleep(0.5)
    time.sleep(1.0)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "stop requested" in err + out
    assert "break-even WR" in out  # the ledger is printed on the way out
    # Nothing half-written: every accepted signal has its order, every fill an order.
    orphans = query(
        sqlite_url,
        "SELECT count(*) FROM signals s LEFT JOIN orders o ON o.signal_key = s.key AND o.run_id = s.run_id "
        "WHERE s.status = 'accepted' AND o.id IS NULL",
    )
    assert orphans == [(0,)]
