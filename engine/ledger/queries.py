"""Ledger reads shared by the CLI, the end-of-run report and (later) the UI.

A trade is a filled order whose market has resolved; the legs of a multi-leg
group (an arb, same ``signals.group_key``) are one trade, counted once all its
legs have resolved. Everything is computed from the ``fills`` and ``outcomes``
tables, so the numbers are the database's:

- ``pnl`` = payout - cost - fees (after fees), payout = shares of the legs that won.
- ``wins``: single orders whose token won; groups whose payout exceeds cost and fees.
- ``win_rate`` = wins / trades and ``breakeven_win_rate`` = mean over trades of
  ``(cost + fees) / max payout`` (for a single order: the fee-inclusive entry
  price per share): per trade, every trade counting once whatever its size.
- ``win_rate_shares`` = payout / max payout and ``breakeven_win_rate_shares`` =
  (cost + fees) / max payout, each summed over trades first: per share. Their
  difference is ``pnl`` / shares, so it has the sign of P&L after fees (the
  per-trade pair need not: ten small wins do not pay for one large loss).
- ``p_value`` = P(wins >= observed) when each directional trade wins with the
  probability of its own break-even price (Poisson-binomial,
  :func:`engine.core.stats.poisson_binomial_sf`). Arb groups are not in it
  (their outcome is not a bet on the price): ``arb_trades`` and ``arb_pnl``.
- ``verdict``: the headline sentence, from the per-share pair; it says above
  break-even exactly when ``pnl`` > 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.core.adaptive.calibrator import Outcomes
from engine.core.stats import poisson_binomial_sf
from engine.ledger.models import FillRow, OrderRow, OutcomeRow, SignalRow

TOTAL = "total"
# Which runs a read covers: a sequence of run ids, or None for every run in the database.
Runs = Sequence[int] | None


def in_runs(column, runs: Runs):  # noqa: ANN001, ANN201
    """``column IN runs`` (true when ``runs`` is None: every run)."""
    return column.in_(list(runs)) if runs is not None else column.is_not(None)


def signal_of_order():  # noqa: ANN201
    """The join condition from an order to its signal (keys are unique per run)."""
    return (SignalRow.run_id == OrderRow.run_id) & (SignalRow.key == OrderRow.signal_key)


@dataclass(frozen=True)
class LedgerRow:
    strategy: str
    trades: int
    wins: int
    win_rate: float | None
    breakeven_win_rate: float | None
    win_rate_shares: float | None
    breakeven_win_rate_shares: float | None
    pnl: float
    fees: float
    p_value: float | None
    arb_trades: int
    arb_pnl: float
    verdict: str

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True)
class Trade:
    strategy: str
    max_payout: float  # what it pays if its best leg wins (shares, for one order)
    payout: float
    cost: float
    fees: float
    won: bool
    legs: int = 1
    grouped: bool = False  # a multi-leg group (an arb): not in the directional test

    @property
    def pnl(self) -> float:
        return self.payout - self.cost - self.fees


def _legs(*, session: Session, runs: Runs = None) -> list[tuple]:
    """Every filled order: (id, strategy, group, side, outcome (None while open), shares,
    cost, fees, run). Fills the venue reverted count nowhere."""
    stmt = (
        select(
            OrderRow.id,
            OrderRow.strategy,
            SignalRow.group_key,
            OrderRow.side,
            OutcomeRow.winner,
            func.sum(FillRow.shares),
            func.sum(FillRow.shares * FillRow.price),
            func.sum(FillRow.fee),
            OrderRow.run_id,
        )
        .join(FillRow, (FillRow.order_id == OrderRow.id) & FillRow.reverted.is_(False))
        .join(SignalRow, signal_of_order())
        .outerjoin(OutcomeRow, OutcomeRow.market_id == OrderRow.market_id)
        .where(in_runs(OrderRow.run_id, runs))
        .group_by(
            OrderRow.id,
            OrderRow.strategy,
            SignalRow.group_key,
            OrderRow.side,
            OutcomeRow.winner,
            OrderRow.run_id,
        )
        .order_by(OrderRow.id)
    )
    return list(session.execute(stmt))


def resolved_trades(*, session: Session, runs: Runs = None) -> list[Trade]:
    """One trade per resolved filled order, or per fully resolved multi-leg group."""
    groups: dict[object, list[tuple]] = {}
    for row in _legs(session=session, runs=runs):
        order_id, group_key, run_id = row[0], row[2], row[8]
        # Group keys are unique within a run only (runs of one seed share market ids).
        key = ("group", run_id, group_key) if group_key is not None else ("order", order_id)
        groups.setdefault(key, []).append(row)
    trades = []
    for key, legs in groups.items():
        if any(leg[4] is None for leg in legs):
            continue  # not resolved yet (every leg must be)
        shares = [float(leg[5]) for leg in legs]
        payout = sum(s for s, leg in zip(shares, legs, strict=True) if leg[3] == leg[4])
        cost = sum(float(leg[6]) for leg in legs)
        fees = sum(float(leg[7]) for leg in legs)
        single = key[0] == "order"
        won = payout > 0 if single else payout > cost + fees
        trades.append(
            Trade(legs[0][1], max(shares), payout, cost, fees, won, len(legs), not single)
        )
    return trades


def summarize(strategy: str, trades: list[Trade]) -> LedgerRow:
    n = len(trades)
    wins = sum(t.won for t in trades)
    pnl = round(sum(t.pnl for t in trades), 6)
    fees = round(sum(t.fees for t in trades), 6)
    arbs = [t for t in trades if t.grouped]
    arb_pnl = round(sum(t.pnl for t in arbs), 6)
    if n == 0:
        none = (None, None, None, None)
        return LedgerRow(
            strategy, 0, 0, *none, pnl, fees, None, 0, arb_pnl, verdict(trades=0, pnl=pnl)
        )
    shares = sum(t.max_payout for t in trades)
    wr_shares = sum(t.payout for t in trades) / shares
    be_shares = sum(t.cost + t.fees for t in trades) / shares
    breakeven = sum((t.cost + t.fees) / t.max_payout for t in trades) / n
    return LedgerRow(
        strategy,
        n,
        wins,
        wins / n,
        breakeven,
        wr_shares,
        be_shares,
        pnl,
        fees,
        directional_p_value([t for t in trades if not t.grouped]),
        len(arbs),
        arb_pnl,
        verdict(trades=n, pnl=pnl, win_rate_shares=wr_shares, breakeven_shares=be_shares),
    )


def directional_p_value(trades: list[Trade]) -> float | None:
    """P(wins >= observed) when each trade wins with the probability of its own fee-inclusive
    entry price (None without trades)."""
    if not trades:
        return None
    prices = [min(max((t.cost + t.fees) / t.max_payout, 0.0), 1.0) for t in trades]
    return poisson_binomial_sf(sum(t.won for t in trades), prices)


def verdict(
    *,
    trades: int,
    pnl: float,
    win_rate_shares: float | None = None,
    breakeven_shares: float | None = None,
) -> str:
    """The headline: the per-share win rate against its break-even, worded by the sign of ``pnl``
    (their difference is ``pnl`` / shares, so the two always agree)."""
    if not trades or win_rate_shares is None or breakeven_shares is None:
        return "no resolved trade yet"
    gap = 100 * abs(win_rate_shares - breakeven_shares)
    pair = f"WR per share {100 * win_rate_shares:.1f}% vs break-even {100 * breakeven_shares:.1f}%"
    if pnl > 0:
        return f"{pair}: {gap:.1f} pp above, these entries made {pnl:,.2f} USD after fees"
    if pnl < 0:
        return f"{pair}: {gap:.1f} pp below, these entries lost {-pnl:,.2f} USD after fees"
    return f"{pair}: at break-even, P&L after fees 0.00 USD"


def ledger(*, session: Session, runs: Runs = None) -> list[LedgerRow]:
    """Per-strategy rows (alphabetical), then the ``total`` row."""
    trades = resolved_trades(session=session, runs=runs)
    names = sorted({t.strategy for t in trades})
    rows = [summarize(name, [t for t in trades if t.strategy == name]) for name in names]
    return [*rows, summarize(TOTAL, trades)]


def open_exposure(*, session: Session, runs: Runs = None) -> tuple[int, float]:
    """Filled orders whose market has not resolved yet: count and USD at stake."""
    open_legs = [leg for leg in _legs(session=session, runs=runs) if leg[4] is None]
    return len(open_legs), float(sum(float(leg[6]) for leg in open_legs))


def group_fills(*, session: Session, runs: Runs = None) -> tuple[int, int]:
    """Multi-leg groups that filled: (complete, partial), partial = unequal shares across legs."""
    legs: dict[tuple[int, str], list[float]] = {}
    for leg in _legs(session=session, runs=runs):
        if leg[2] is not None:
            legs.setdefault((leg[8], leg[2]), []).append(float(leg[5]))
    partial = sum(1 for shares in legs.values() if max(shares) - min(shares) > 1e-9)
    return len(legs) - partial, partial


def skip_mix(*, session: Session, runs: Runs = None) -> list[tuple[str, str, int]]:
    """(strategy, reason, count) of rejected candidates, most frequent first.

    A candidate the gates accepted whose order filled nothing (``exec.moved``,
    ``exec.depleted``...) is rejected here with its order's reason."""
    stmt = (
        select(SignalRow.strategy, SignalRow.reason, func.count())
        .where(SignalRow.status == "rejected", in_runs(SignalRow.run_id, runs))
        .group_by(SignalRow.strategy, SignalRow.reason)
        .order_by(func.count().desc())
    )
    return [(s, r, int(c)) for s, r, c in session.execute(stmt)]


def resolved_entries(
    *, session: Session, strategy: str, since: datetime, until: datetime, runs: Runs = None
) -> Outcomes:
    """The calibrator's input: single-leg filled entries of ``strategy`` resolved in [since, until]
    (of ``runs`` only: a run learns from its own outcomes)."""
    stmt = (
        select(
            OrderRow.side,
            OutcomeRow.winner,
            OrderRow.cost,
            OrderRow.fees,
            OrderRow.filled_shares,
            SignalRow.gamma_1pct,
            SignalRow.delta_1pct,
            SignalRow.iv_rv,
            SignalRow.z,
        )
        .join(SignalRow, signal_of_order())
        .join(OutcomeRow, OutcomeRow.market_id == OrderRow.market_id)
        .where(
            in_runs(OrderRow.run_id, runs),
            OrderRow.strategy == strategy,
            OrderRow.filled_shares > 0,
            SignalRow.group_key.is_(None),
            OutcomeRow.resolved_at >= since,
            OutcomeRow.resolved_at <= until,
        )
        # The order the outcomes became known (the calibrator's evidence bets on each before
        # seeing it), the same on every database: sums and centroids come out bit-identical.
        .order_by(OutcomeRow.resolved_at, OrderRow.run_id, OrderRow.signal_key)
    )
    rows = session.execute(stmt).all()

    def col(i: int) -> np.ndarray:
        return np.array([np.nan if r[i] is None else float(r[i]) for r in rows], dtype=float)

    shares = col(4)
    return Outcomes(
        won=np.array([r[0] == r[1] for r in rows], dtype=bool),
        cost=(col(2) + col(3)) / np.where(shares > 0, shares, np.nan),
        gamma=col(5),
        delta=col(6),
        iv_rv=col(7),
        z=col(8),
    )
