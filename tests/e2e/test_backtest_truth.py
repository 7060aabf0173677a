"""Backtests on corpora whose truth is known: the ledger must find an edge only where one is.

Both corpora come from ``engine.adapters.corpus.synthetic`` with parameters (volatility,
seeds, staleness) that nothing in the engine was tuned on: the defaults of every gate, sizer
and calibrator are the shipped ones.

- **No edge**: quotes one tick either side of the true probability, fees on. The shipped
  strategies must not claim an edge (and do not trade: the gates see no edge after the spread
  and the fee); a coin-flip trader (the sample strategy with its edge gate off: it buys the
  cheaper side at every window start) trades a lot, and its ledger must say it is a coin flip
  that loses the spread and the fees, however its raw win rate looks.
- **A planted edge**: in 30 % of the windows the quotes are 60 s stale; Up/Down Capture, built
  for exactly that lag, must find it beyond doubt (p < 0.01) within the corpus.
"""

from __future__ import annotations

import pytest

from engine.adapters.corpus.synthetic import SyntheticCorpus
from engine.ledger.db import make_engine, make_sessionmaker
from engine.ledger.queries import TOTAL, ledger
from tests.helpers import query, run_edgeloop

pytestmark = pytest.mark.slow
SHIPPED = ("updown", "itm", "follow", "news", "negrisk")
COIN_FLIPPER = [
    "+strategy@strategies.sample=sample",
    "strategies.sample.gates.min_edge.min_edge=-1",
]


def backtest(corpus, url, *extra) -> dict:
    done = run_edgeloop(
        "mode=backtest",
        f"backtest.corpus={corpus}",
        f"db.url={url}",
        "run.progress=false",
        *extra,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    engine = make_engine(url)
    try:
        with make_sessionmaker(engine)() as session:
            return {row.strategy: row for row in ledger(session=session)}
    finally:
        engine.dispose()


def test_no_strategy_claims_an_edge_where_the_quotes_are_the_truth(tmp_path):
    corpus = tmp_path / "noedge"
    SyntheticCorpus(hours=6, symbols=("BTCUSDT", "ETHUSDT"), vol=0.65, seed=101).write(corpus)
    url = f"sqlite:///{tmp_path / 'noedge.db'}"
    rows = backtest(corpus, url, *COIN_FLIPPER)
    for name, row in rows.items():
        if name != TOTAL and row.trades:
            assert row.p_value > 0.05, (name, row)
    flipper = rows["sample"]
    assert flipper.trades >= 30  # enough coin flips to judge
    assert flipper.pnl < 0 and flipper.win_rate_shares < flipper.breakeven_win_rate_shares
    # The shipped strategies see no edge after the spread and the fee: they stop at the gates.
    accepted = dict(
        query(url, "SELECT strategy, count(*) FROM signals WHERE status='accepted' GROUP BY 1")
    )
    decided = dict(query(url, "SELECT strategy, count(*) FROM signals GROUP BY 1"))
    assert decided.get("updown", 0) > 1000  # they looked, often
    for name in SHIPPED:
        assert name not in rows or rows[name].p_value is None or rows[name].p_value > 0.05
        assert accepted.get(name, 0) <= 0.01 * max(decided.get(name, 0), 1), name


def test_up_down_capture_finds_a_planted_edge(tmp_path):
    corpus = tmp_path / "edge"
    spec = SyntheticCorpus(
        hours=12, symbols=("BTCUSDT", "ETHUSDT"), vol=0.55, edge_share=0.3, lag_s=60, seed=303
    )
    spec.write(corpus)
    rows = backtest(corpus, f"sqlite:///{tmp_path / 'edge.db'}")
    updown = rows["updown"]
    assert updown.trades >= 30
    assert updown.p_value < 0.01, updown
    assert updown.pnl > 0 and updown.win_rate_shares > updown.breakeven_win_rate_shares
    assert spec.edge_windows  # the planted windows are known (for a closer look)
