"""The report's pure numbers: intervals, Brier scores, reliability bins, equity and drawdown."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import binomtest
from scipy.stats import t as student_t

from engine.ledger.queries import TOTAL, Trade, summarize
from engine.ledger.report import (
    NO_Z,
    Entry,
    brier_score,
    calibration,
    equity_curve,
    mean_interval,
    order_mix,
    reliability_bins,
    sigma_bins,
    sigma_label,
    strategy_rows,
    wilson_interval,
    with_intervals,
)

T0 = datetime(2026, 1, 5, tzinfo=UTC)


def entry(shares: float, price: float, won: bool, strategy: str = "s", fee: float = 0.0) -> Trade:
    """A single order of ``shares`` at ``price`` with ``fee`` per share."""
    return Trade(strategy, shares, shares if won else 0.0, shares * price, shares * fee, won)


@pytest.mark.parametrize(
    ("wins", "n", "expected"),
    [(0, 10, (0.0, 0.2775)), (5, 10, (0.2366, 0.7634)), (10, 10, (0.7225, 1.0))],
)
def test_wilson_interval_known_values(wins, n, expected):
    ci = wilson_interval(wins, n)
    assert (ci.low, ci.high) == pytest.approx(expected, abs=5e-5)


@pytest.mark.parametrize(("wins", "n"), [(1, 3), (149, 207), (7, 8), (55, 61), (0, 1)])
def test_wilson_interval_matches_scipy(wins, n):
    ref = binomtest(wins, n).proportion_ci(confidence_level=0.95, method="wilson")
    ci = wilson_interval(wins, n)
    assert (ci.low, ci.high) == pytest.approx((ref.low, ref.high), abs=1e-12)


def test_wilson_interval_of_nothing_is_undefined_and_impossible_counts_raise():
    ci = wilson_interval(0, 0)
    assert math.isnan(ci.low) and math.isnan(ci.high)
    with pytest.raises(ValueError, match="successes <= n"):
        wilson_interval(3, 2)


def test_mean_interval_is_student_t():
    x = [1.0, 2.0, 3.0, 4.0]
    mean, ci = mean_interval(x)
    half = student_t.ppf(0.975, 3) * math.sqrt(5 / 3) / 2  # sd = sqrt(5/3), sqrt(n) = 2
    assert mean == 2.5 and (ci.low, ci.high) == pytest.approx((2.5 - half, 2.5 + half))
    none, none_ci = mean_interval([])
    assert none is None and math.isnan(none_ci.low)
    one_mean, one_ci = mean_interval([7.0])
    assert one_mean == 7.0 and math.isnan(one_ci.low)


@pytest.mark.parametrize(
    ("p", "won", "expected"),
    [
        ([1.0, 0.0], [1, 0], 0.0),  # certain and right
        ([0.0, 1.0], [1, 0], 1.0),  # certain and wrong
        ([0.5, 0.5, 0.5], [1, 0, 1], 0.25),  # the coin flip
        ([0.8, 0.3], [1, 0], (0.04 + 0.09) / 2),
        ([0.9, 0.6, 0.2, 0.7], [1, 0, 0, 1], (0.01 + 0.36 + 0.04 + 0.09) / 4),
    ],
)
def test_brier_score_known_values(p, won, expected):
    score, ci = brier_score(p, won)
    assert score == pytest.approx(expected)
    if len(set(p)) > 1 or len(set(won)) > 1:
        assert 0.0 <= ci.low <= score <= ci.high <= 1.0


def test_reliability_bins_group_forecasts_and_count_wins():
    p = [0.05, 0.12, 0.15, 0.55, 0.95, 1.0, 1.3]  # 1.0 and 1.3 (clipped) go in the last bin
    won = [0, 0, 1, 1, 1, 1, 0]
    bins = reliability_bins(p, won)
    assert [(b.low, b.high, b.n, b.wins) for b in bins] == [
        (0.0, 0.1, 1, 0),
        (0.1, 0.2, 2, 1),
        (0.5, 0.6, 1, 1),
        (0.9, 1.0, 3, 2),
    ]
    assert bins[1].mean_p == pytest.approx(0.135) and bins[1].win_rate == 0.5
    assert bins[3].mean_p == pytest.approx((0.95 + 1.0 + 1.0) / 3)
    ci = wilson_interval(2, 3)
    assert (bins[3].interval.low, bins[3].interval.high) == (ci.low, ci.high)
    assert reliability_bins([], []) == []


def test_calibration_compares_fair_value_with_the_price_on_the_same_entries():
    cal = calibration(fair=[0.9, 0.8, 0.3], price=[0.7, 0.7, 0.5], won=[1, 1, 0])
    assert cal.entries == 3
    assert cal.brier == pytest.approx((0.01 + 0.04 + 0.09) / 3)
    assert cal.market_brier == pytest.approx((0.09 + 0.09 + 0.25) / 3)
    assert cal.gap == pytest.approx(cal.brier - cal.market_brier)
    assert cal.gap < 0  # the fair value forecast these outcomes better than the price


def test_equity_and_drawdown_from_a_handful_of_settlements():
    times = [T0 + timedelta(minutes=m) for m in (5, 10, 10, 15, 20, 25)]
    curve = equity_curve(times, [+10.0, -4.0, -5.0, +2.0, -8.0, +20.0])
    # Two positions settle at 00:10: one step of -9, whatever their order.
    assert curve.settlements == 6
    assert curve.times == tuple(T0 + timedelta(minutes=m) for m in (5, 10, 15, 20, 25))
    assert curve.equity == pytest.approx((10.0, 1.0, 3.0, -5.0, 15.0))
    assert curve.drawdown == pytest.approx((0.0, -9.0, -7.0, -15.0, 0.0))
    assert curve.final == pytest.approx(15.0) and curve.max_drawdown == pytest.approx(-15.0)


def test_a_run_that_only_loses_draws_down_from_zero():
    curve = equity_curve([T0, T0 + timedelta(minutes=5)], [-3.0, -2.0])
    assert curve.drawdown == pytest.approx((-3.0, -5.0)) and curve.max_drawdown == -5.0
    empty = equity_curve([], [])
    assert (empty.settlements, empty.final, empty.max_drawdown) == (0, 0.0, 0.0)


def test_rows_are_the_ledgers_with_wilson_intervals():
    trades = [entry(10, 0.6, True, "a")] * 7 + [entry(10, 0.6, False, "a")] * 3
    trades += [entry(5, 0.3, True, "b"), entry(5, 0.3, False, "b")]
    rows = strategy_rows(trades)
    assert [r.ledger.strategy for r in rows] == ["a", "b", TOTAL]
    assert [r.ledger for r in rows] == [
        summarize("a", trades[:10]),
        summarize("b", trades[10:]),
        summarize(TOTAL, trades),
    ]
    a = rows[0]
    ci = wilson_interval(7, 10)
    assert (a.win_rate_ci.low, a.win_rate_ci.high) == (ci.low, ci.high)
    # Equal sizes: the effective number of trades is the number of trades.
    assert (a.win_rate_shares_ci.low, a.win_rate_shares_ci.high) == pytest.approx((ci.low, ci.high))
    assert a.mean_pnl == pytest.approx((7 * 4.0 - 3 * 6.0) / 10)


def test_a_few_large_trades_do_not_narrow_the_per_share_interval():
    # One 1,000-share winner and nine 1-share losers: WR/share 99.1 %, but the evidence is about
    # one trade, and the interval says so (Kish's effective n is about 1.02).
    trades = [entry(1000, 0.5, True)] + [entry(1, 0.5, False)] * 9
    row = with_intervals(TOTAL, trades)
    assert row.ledger.win_rate_shares == pytest.approx(1000 / 1009)
    assert row.win_rate_shares_ci.low < 0.25


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(st.floats(0.01, 1_000), st.floats(0.01, 0.99), st.booleans()),
        min_size=1,
        max_size=40,
    )
)
def test_every_rate_lies_inside_its_interval(specs):
    row = with_intervals(TOTAL, [entry(s, p, w) for s, p, w in specs])
    assert row.win_rate_ci.low <= row.ledger.win_rate <= row.win_rate_ci.high
    eps = 1e-9
    assert row.win_rate_shares_ci.low - eps <= row.ledger.win_rate_shares
    assert row.ledger.win_rate_shares <= row.win_rate_shares_ci.high + eps


def test_sigma_bins_by_the_size_of_the_move():
    assert [sigma_label(z) for z in (0.0, 0.99, 1.0, 1.7, 2.49, 2.5, 3.0, 9.0, None)] == [
        "0-1", "0-1", "1-1.5", "1.5-2", "2-2.5", "2.5-3", ">=3", ">=3", NO_Z,
    ]  # fmt: skip
    entries = [
        Entry(entry(10, 0.6, True), z=-1.7, fair=0.7, price=0.6),
        Entry(entry(10, 0.6, False), z=1.6, fair=0.7, price=0.6),
        Entry(entry(10, 0.4, True), z=3.2, fair=0.5, price=0.4),
        Entry(entry(10, 0.5, True), z=None, fair=None, price=0.5),
    ]
    rows = sigma_bins(entries)
    assert [(r.ledger.strategy, r.ledger.trades, r.ledger.wins) for r in rows] == [
        ("1.5-2", 2, 1),
        (">=3", 1, 1),
        (NO_Z, 1, 1),
    ]
    assert sum(r.ledger.pnl for r in rows) == pytest.approx(sum(e.trade.pnl for e in entries))


def test_order_mix_counts_statuses_and_fills_per_strategy_and_in_total():
    mix = order_mix(
        [("a", "filled", 3, 3), ("a", "unfilled", 1, 0), ("b", "partial", 1, 1),
         ("b", "rejected", 1, 0), ("b", "reverted", 2, 0)]
    )  # fmt: skip
    assert [(m.strategy, m.orders, m.filled) for m in mix] == [
        ("a", 4, 3),
        ("b", 4, 1),
        (TOTAL, 8, 4),
    ]
    assert mix[-1].by_status == {
        "filled": 3,
        "unfilled": 1,
        "partial": 1,
        "rejected": 1,
        "reverted": 2,
    }
    assert mix[0].fill_rate == 0.75 and mix[-1].interval == wilson_interval(4, 8)
    assert order_mix([])[-1].fill_rate is None
