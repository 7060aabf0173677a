"""``summarize``: the per-share pair and the verdict follow P&L; the p-value is Poisson-binomial."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import binomtest

from engine.core.stats import poisson_binomial_sf
from engine.ledger.cli import format_table
from engine.ledger.queries import TOTAL, Trade, summarize


def entry(shares: float, price: float, fee: float, won: bool, strategy: str = "s") -> Trade:
    """A single order of ``shares`` at ``price`` with ``fee`` per share."""
    return Trade(strategy, shares, shares if won else 0.0, shares * price, shares * fee, won)


def small_wins_big_losses() -> list[Trade]:
    """The issue's case: 87 wins of 10 shares, 13 losses of 100 shares, at 0.85 (+0.009 fees)."""
    return [entry(10, 0.85, 0.009, True)] * 87 + [entry(100, 0.85, 0.009, False)] * 13


def test_many_small_wins_do_not_hide_a_few_big_losses():
    row = summarize(TOTAL, small_wins_big_losses())
    assert row.pnl == pytest.approx(870 - 2170 * 0.859)  # -994.03
    assert row.win_rate == 0.87 and row.breakeven_win_rate == pytest.approx(0.859)  # per trade
    assert row.win_rate_shares == pytest.approx(870 / 2170)  # 40.1 %
    assert row.breakeven_win_rate_shares == pytest.approx(0.859)
    assert "below" in row.verdict and "lost 994.03 USD" in row.verdict
    text = format_table([row])
    assert text.splitlines()[0].startswith("verdict: WR per share 40.1% vs break-even 85.9%")
    assert " 87.0%" in text and " 40.1%" in text  # both pairs are shown


trades_ = st.lists(
    st.builds(
        entry,
        shares=st.floats(0.01, 1_000),
        price=st.floats(0.01, 0.99),
        fee=st.floats(0, 0.05),
        won=st.booleans(),
    ),
    min_size=1,
    max_size=60,
)


@settings(max_examples=2_000, deadline=None)
@given(trades_)
def test_the_verdict_and_the_per_share_pair_have_the_sign_of_pnl(trades):
    row = summarize(TOTAL, trades)
    gap = row.win_rate_shares - row.breakeven_win_rate_shares
    shares = sum(t.max_payout for t in trades)
    assert gap * shares == pytest.approx(sum(t.pnl for t in trades), abs=1e-9)
    if row.pnl > 0:
        assert gap > 0 and " above, " in row.verdict and "made" in row.verdict
    elif row.pnl < 0:
        assert gap < 0 and " below, " in row.verdict and "lost" in row.verdict
    else:
        assert "at break-even" in row.verdict


def test_the_p_value_tests_each_entry_against_its_own_price():
    # Ten favourites at 0.99 that all won and ten longshots at 0.01 of which one won: one win more
    # than their prices expect, and a longshot's win is rare (p about 0.1). A pooled binomial at
    # the mean price 0.5 calls 11 of 20 a coin flip (p = 0.41).
    trades = [entry(10, 0.99, 0.0, True)] * 10 + [entry(10, 0.01, 0.0, False)] * 9
    trades.append(entry(10, 0.01, 0.0, True))
    row = summarize(TOTAL, trades)
    assert row.p_value == pytest.approx(poisson_binomial_sf(11, [0.99] * 10 + [0.01] * 10))
    assert row.p_value < 0.1 < 0.4 < binomtest(11, 20, 0.5, alternative="greater").pvalue


def test_arb_groups_stay_out_of_the_directional_test():
    arb = Trade("arb", 10, 10, 9.5, 0.1, True, legs=2, grouped=True)
    directional = [entry(10, 0.5, 0.0, True), entry(10, 0.5, 0.0, False)]
    row = summarize(TOTAL, [*directional, arb, arb])
    assert (row.trades, row.wins, row.arb_trades) == (4, 3, 2)
    assert row.arb_pnl == pytest.approx(0.8)
    assert row.p_value == pytest.approx(0.75)  # P(>= 1 win of two coin flips): arbs not in it
    assert summarize("arb", [arb]).p_value is None
    assert "Arb groups: 2 trades, P&L +0.80 USD" in format_table([row])


def test_no_trades():
    row = summarize(TOTAL, [])
    assert (row.win_rate_shares, row.p_value, row.verdict) == (None, None, "no resolved trade yet")
    assert format_table([row]).splitlines()[0] == "verdict: no resolved trade yet"
