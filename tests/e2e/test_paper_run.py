"""End to end: the real `edgeloop` and `edgeloop-ledger` commands on a fresh SQLite file."""

from __future__ import annotations

import json
import re
import subprocess

import pytest

from settings_service.dbcheck import EXIT_UNAVAILABLE
from tests.helpers import BIN, ROOT, pnl_from_fills_and_outcomes, query, run_edgeloop


@pytest.fixture(scope="module")
def two_hour_run(tmp_path_factory):
    db = tmp_path_factory.mktemp("e2e") / "edgeloop.db"
    url = f"sqlite:///{db}"
    proc = run_edgeloop("run.duration=2h", "run.speed=max", "seed=7", f"db.url={url}")
    return url, proc


def test_a_bounded_run_trades_logs_and_prints_the_ledger(two_hour_run):
    url, proc = two_hour_run
    assert proc.returncode == 0, proc.stderr[-3000:]
    logs = proc.stdout + proc.stderr
    signal_lines = re.findall(
        r"signal sym=\w+ strat=updown side=(?:UP|DOWN) P=[\d.]+ fair=[\d.]+ E=[+-][\d.]+ z=-?[\d.]+ stake=[\d.]+",
        logs,
    )
    assert len(signal_lines) >= 5
    status = re.findall(
        r"status run=\d+ t=\S+ regime=(?:CALM|CHOPPY) flip_rate=\S+ markets=\d+ breaker=\S+", logs
    )
    assert len(status) >= 119  # one per simulated minute
    assert re.search(r"greeks-live sym=\w+ Δ=[+-][\d.]+ Γ=[+-][\d.]+ IV/RV=", logs)
    assert "break-even WR" in proc.stdout and "total" in proc.stdout
    # 2 hours x 3 symbols: 24 five-minute and 8 fifteen-minute windows each resolve.
    updown = "SELECT count(*) FROM outcomes o JOIN markets m ON m.market_id = o.market_id WHERE m.kind = 'updown'"
    assert query(url, updown) == [(3 * (24 + 8),)]
    # Each neg-risk event resolves exactly one of its outcomes Yes.
    per_event = query(
        url,
        "SELECT m.event_id, SUM(CASE WHEN o.winner = 'UP' THEN 1 ELSE 0 END) FROM outcomes o "
        "JOIN markets m ON m.market_id = o.market_id WHERE m.kind = 'range' GROUP BY m.event_id",
    )
    assert per_event and all(wins == 1 for _, wins in per_event)


def test_ledger_json_equals_fills_and_outcomes_to_the_cent(two_hour_run):
    url, _ = two_hour_run
    out = subprocess.run(
        [str(BIN / "edgeloop-ledger"), "--json", "--db", url],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout)
    keys = {
        "strategy",
        "trades",
        "wins",
        "win_rate",
        "breakeven_win_rate",
        "win_rate_shares",
        "breakeven_win_rate_shares",
        "pnl",
        "fees",
        "p_value",
        "arb_trades",
        "arb_pnl",
        "verdict",
    }
    assert all(set(r) == keys for r in rows)
    total = rows[-1]
    assert total["strategy"] == "total"
    trades, wins, pnl, fees = pnl_from_fills_and_outcomes(url)
    assert trades > 0
    assert (total["trades"], total["wins"]) == (trades, wins)
    assert round(total["pnl"], 2) == round(pnl, 2)
    assert round(total["fees"], 2) == round(fees, 2)
    assert sum(r["trades"] for r in rows[:-1]) == trades
    assert 0.0 < total["breakeven_win_rate"] < 1.0
    assert 0.0 <= total["p_value"] <= 1.0


def test_every_rejected_candidate_keeps_its_reason(two_hour_run):
    url, _ = two_hour_run
    assert query(
        url, "SELECT count(*) FROM signals WHERE status = 'rejected' AND reason IS NULL"
    ) == [(0,)]
    reasons = {
        r for (r,) in query(url, "SELECT DISTINCT reason FROM signals WHERE reason IS NOT NULL")
    }
    assert {"gate.sigma", "gate.dead_zone"} <= reasons
    out = subprocess.run(
        [str(BIN / "edgeloop-ledger"), "--skips", "--db", url],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert out.returncode == 0 and "gate.sigma" in out.stdout


def test_a_bad_value_stops_the_engine_before_it_starts(tmp_path):
    proc = run_edgeloop(
        "strategies.updown.gates.dead_zone.low=0.6", f"db.url=sqlite:///{tmp_path / 'x.db'}"
    )
    assert proc.returncode == 2
    assert "strategies.updown.gates.dead_zone.low=0.6 must be <= high=0.58" in proc.stderr
    assert not (tmp_path / "x.db").exists()  # nothing was created


def test_ledger_on_a_missing_database_says_so(tmp_path):
    out = subprocess.run(
        [str(BIN / "edgeloop-ledger"), "--db", f"sqlite:///{tmp_path / 'none.db'}"],
        capture_output=True,
        text=True,
    )
    assert out.returncode == EXIT_UNAVAILABLE
    assert "no such database" in out.stderr
    assert not (tmp_path / "none.db").exists()  # a read-only command creates nothing
