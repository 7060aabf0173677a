"""Six simulated hours with all five strategies: each stores signals, fills and outcomes."""

from __future__ import annotations

import json
import subprocess

import pytest

from tests.helpers import BIN, ROOT, pnl_from_fills_and_outcomes, query, run_edgeloop

STRATEGIES = ["follow", "itm", "negrisk", "news", "updown"]


@pytest.fixture(scope="module")
def six_hours(tmp_path_factory):
    url = f"sqlite:///{tmp_path_factory.mktemp('six') / 'edgeloop.db'}"
    proc = run_edgeloop("run.duration=6h", "run.speed=max", "seed=1", f"db.url={url}", timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return url, proc


@pytest.mark.slow
def test_each_strategy_signals_fills_and_resolves(six_hours):
    url, _ = six_hours
    for name in STRATEGIES:
        signals = query(url, f"SELECT count(*) FROM signals WHERE strategy = '{name}'")[0][0]
        fills = query(
            url,
            f"SELECT count(*) FROM fills f JOIN orders o ON o.id = f.order_id WHERE o.strategy = '{name}'",
        )[0][0]
        resolved = query(
            url,
            "SELECT count(*) FROM positions WHERE status = 'settled' AND strategy = '" + name + "'",
        )[0][0]
        assert signals > 0 and fills > 0 and resolved > 0, (name, signals, fills, resolved)


@pytest.mark.slow
def test_the_ledger_shows_five_rows_and_the_total(six_hours):
    url, _ = six_hours
    out = subprocess.run(
        [str(BIN / "edgeloop-ledger"), "--json", "--db", url],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    rows = json.loads(out.stdout)
    assert [r["strategy"] for r in rows] == [*STRATEGIES, "total"]
    trades, wins, pnl, fees = pnl_from_fills_and_outcomes(url)
    assert (rows[-1]["trades"], rows[-1]["wins"]) == (trades, wins)
    assert round(rows[-1]["pnl"], 2) == round(pnl, 2)
    assert round(sum(r["pnl"] for r in rows[:-1]), 2) == round(rows[-1]["pnl"], 2)
    table = subprocess.run(
        [str(BIN / "edgeloop-ledger"), "--db", url], capture_output=True, text=True
    ).stdout
    for name in [*STRATEGIES, "total"]:
        assert f"\n{name} " in table


@pytest.mark.slow
def test_every_rejection_is_visible_with_its_value(six_hours):
    url, _ = six_hours
    assert query(
        url, "SELECT count(*) FROM signals WHERE status = 'rejected' AND reason IS NULL"
    ) == [(0,)]
    mix = subprocess.run(
        [str(BIN / "edgeloop-ledger"), "--skips", "--json", "--db", url],
        capture_output=True,
        text=True,
    )
    reasons = {(r["strategy"], r["reason"]) for r in json.loads(mix.stdout)}
    assert ("updown", "gate.sigma") in reasons and ("negrisk", "gate.arb_profit") in reasons
    # Arb legs stand or fall together: no group has both accepted and rejected legs.
    mixed = query(
        url,
        "SELECT group_key FROM signals WHERE group_key IS NOT NULL GROUP BY group_key "
        "HAVING COUNT(DISTINCT CASE WHEN status = 'accepted' THEN 'a' WHEN reason LIKE 'exec.%' THEN 'a' ELSE 'r' END) > 1",
    )
    assert mixed == []
