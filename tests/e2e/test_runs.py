"""Run identity end to end: separate ledgers per run, explicit resume, the README's examples."""

from __future__ import annotations

import json
import re
import subprocess

import pytest

from tests.helpers import BIN, ROOT, heading, pnl_from_fills_and_outcomes, query, run_edgeloop


def ledger_cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(BIN / "edgeloop-ledger"), *args], capture_output=True, text=True, cwd=ROOT, env=env
    )


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    url = f"sqlite:///{tmp_path_factory.mktemp('runs') / 'edgeloop.db'}"
    first = run_edgeloop("run.duration=40m", "run.speed=max", "seed=7", f"db.url={url}")
    second = run_edgeloop("run.duration=40m", "run.speed=max", "seed=8", f"db.url={url}")
    assert first.returncode == 0, first.stderr[-2000:]
    assert second.returncode == 0, second.stderr[-2000:]
    return url, first, second


def total(out: str) -> dict:
    return json.loads(out)[-1]


def test_two_seeds_on_one_database_are_two_ledgers(two_runs):
    url, first, second = two_runs
    assert heading(first.stdout).startswith("ledger of run 1 paper on sim seed=7")
    assert heading(second.stdout).startswith("ledger of run 2 paper on sim seed=8")
    assert query(url, "SELECT id, seed, status FROM runs ORDER BY id") == [
        (1, 7, "finished"),
        (2, 8, "finished"),
    ]
    by_run = {run: pnl_from_fills_and_outcomes(url, run=run) for run in (1, 2)}
    assert by_run[1][0] > 0 and by_run[2][0] > 0

    latest = total(ledger_cli("--json", "--db", url).stdout)  # default: the latest run
    assert (latest["trades"], latest["wins"]) == by_run[2][:2]
    assert round(latest["pnl"], 2) == round(by_run[2][2], 2)
    one = total(ledger_cli("--json", "--run", "1", "--db", url).stdout)
    assert (one["trades"], one["wins"]) == by_run[1][:2]
    both = total(ledger_cli("--json", "--run", "all", "--db", url).stdout)
    assert both["trades"] == by_run[1][0] + by_run[2][0]
    assert round(both["pnl"], 2) == round(by_run[1][2] + by_run[2][2], 2)
    table = ledger_cli("--db", url).stdout
    assert table.startswith("ledger of run 2 paper on sim seed=8, 2026-01-05T00:00:00Z..")


def test_the_second_runs_rows_are_its_own(two_runs):
    url, _, second = two_runs
    # The second run's end-of-run table is its own ledger, not the union.
    trades = int(re.search(r"^total\s+(\d+)", second.stdout, re.M).group(1))
    assert trades == pnl_from_fills_and_outcomes(url, run=2)[0]
    for table in ("signals", "orders", "fills", "positions", "calibrations"):
        runs = {r for (r,) in query(url, f"SELECT DISTINCT run_id FROM {table}")}
        assert runs == {1, 2}, table


def test_each_runs_calibrator_learns_from_its_own_outcomes_only(two_runs):
    url, _, _ = two_runs
    # What the calibrator saw at each run: the run's own resolved single-leg updown entries.
    rows = query(
        url,
        "SELECT run_id, ts, n_wins + n_losses FROM calibrations WHERE strategy = 'updown' "
        "ORDER BY run_id, ts",
    )
    own = "SELECT count(*) FROM orders o JOIN outcomes oc ON oc.market_id = o.market_id " \
        "JOIN signals s ON s.key = o.signal_key AND s.run_id = o.run_id " \
        "WHERE o.strategy = 'updown' AND o.filled_shares > 0 AND s.group_key IS NULL " \
        "AND oc.resolved_at <= '{ts}' AND o.run_id {cmp} {run}"  # fmt: skip
    mixed = 0
    for run, ts, seen in rows:
        assert seen == query(url, own.format(ts=ts, cmp="=", run=run))[0][0]
        mixed += query(url, own.format(ts=ts, cmp="!=", run=run))[0][0] > 0
    assert mixed > 0  # the other run had outcomes at those times: they were left out


def test_runs_lists_every_run(two_runs):
    url, _, _ = two_runs
    out = ledger_cli("runs", "--db", url)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].split()[:5] == ["id", "name", "mode", "feed", "seed"]
    assert [ln.split()[0] for ln in lines[2:]] == ["1", "2"]
    listed = json.loads(ledger_cli("runs", "--json", "--db", url).stdout)
    assert [(r["id"], r["seed"], r["status"]) for r in listed] == [
        (1, 7, "finished"),
        (2, 8, "finished"),
    ]


def test_a_resume_needs_the_same_configuration_and_a_known_run(two_runs):
    url, _, _ = two_runs
    other = run_edgeloop(
        "run.duration=50m", "run.speed=max", "seed=9", "run.resume=2", f"db.url={url}"
    )
    assert other.returncode == 2
    assert "run.resume=2" in other.stderr and "run 2 was made with configuration" in other.stderr
    missing = run_edgeloop("run.resume=nope", f"db.url={url}")
    assert missing.returncode == 2 and "no run 'nope' in this database" in missing.stderr
    bad = ledger_cli("--run", "42", "--db", url)
    assert bad.returncode == 2 and "no run '42'" in bad.stderr
    assert query(url, "SELECT count(*) FROM runs") == [(2,)]  # nothing was started


def test_a_named_run_resumes_by_name_and_a_name_is_unique(tmp_path):
    url = f"sqlite:///{tmp_path / 'named.db'}"
    args = ("run.speed=max", "seed=3", f"db.url={url}")
    first = run_edgeloop("run.duration=20m", "run.name=calm-3", *args)
    assert first.returncode == 0, first.stderr[-2000:]
    again = run_edgeloop("run.duration=30m", "run.resume=calm-3", *args)
    assert again.returncode == 0, again.stderr[-2000:]
    assert "resumed run 1 at 2026-01-05T00:20:00Z" in again.stderr + again.stdout
    assert heading(again.stdout).startswith("ledger of run 1 'calm-3'")
    assert query(url, "SELECT max(ts) FROM signals")[0][0] > "2026-01-05 00:20"
    dup = run_edgeloop("run.duration=20m", "run.name=calm-3", *args)
    assert dup.returncode == 2 and "run.name='calm-3'" in dup.stderr
    assert "already names a run" in dup.stderr
