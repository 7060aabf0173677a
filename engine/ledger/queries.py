"""Ledger reads shared by the CLI, the end-of-run report and (later) the UI.

A trade is a filled order whose market has resolved. Everything is computed
from the ``fills`` and ``outcomes`` tables, so the numbers are the database's:

- ``pnl`` = payout - cost - fees (after fees), payout = shares if the token won.
- ``breakeven_win_rate`` = mean over trades of the fee-inclusive entry price per
  share, ``(cost + fees) / shares``: the win rate at which those trades break even.
- ``p_value`` = one-sided binomial test of the wins against the break-even win
  rate (small = evidence the strategy beats the price it pays, not a coin flip).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from scipy.stats import binomtest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.ledger.models import FillRow, OrderRow, OutcomeRow, SignalRow

TOTAL = "total"


@dataclass(frozen=True)
class LedgerRow:
    strategy: str
    trades: int
    wins: int
    win_rate: float | None
    breakeven_win_rate: float | None
    pnl: float
    fees: float
    p_value: float | None

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True)
class Trade:
    strategy: str
    shares: float
    cost: float
    fees: float
    won: bool

    @property
    def pnl(self) -> float:
        return (self.shares if self.won else 0.0) - self.cost - self.fees


def resolved_trades(*, session: Session) -> list[Trade]:
    """One row per filled order on a resolved market, aggregated from its fills."""
    stmt = (
        select(
            OrderRow.strategy,
            OrderRow.side,
            OutcomeRow.winner,
            func.sum(FillRow.shares),
            func.sum(FillRow.shares * FillRow.price),
            func.sum(FillRow.fee),
        )
        .join(FillRow, FillRow.order_id == OrderRow.id)
        .join(OutcomeRow, OutcomeRow.market_id == OrderRow.market_id)
        .group_by(OrderRow.id, OrderRow.strategy, OrderRow.side, OutcomeRow.winner)
        .order_by(OrderRow.id)
    )
    return [
        Trade(strategy, float(shares), float(cost), float(fees), side == winner)
        for strategy, side, winner, shares, cost, fees in session.execute(stmt)
    ]


def summarize(strategy: str, trades: list[Trade]) -> LedgerRow:
    n = len(trades)
    wins = sum(t.won for t in trades)
    pnl = round(sum(t.pnl for t in trades), 6)
    fees = round(sum(t.fees for t in trades), 6)
    if n == 0:
        return LedgerRow(strategy, 0, 0, None, None, pnl, fees, None)
    breakeven = sum((t.cost + t.fees) / t.shares for t in trades) / n
    p = binomtest(wins, n, min(max(breakeven, 0.0), 1.0), alternative="greater").pvalue
    return LedgerRow(strategy, n, wins, wins / n, breakeven, pnl, fees, float(p))


def ledger(*, session: Session) -> list[LedgerRow]:
    """Per-strategy rows (alphabetical), then the ``total`` row."""
    trades = resolved_trades(session=session)
    names = sorted({t.strategy for t in trades})
    rows = [summarize(name, [t for t in trades if t.strategy == name]) for name in names]
    return [*rows, summarize(TOTAL, trades)]


def open_exposure(*, session: Session) -> tuple[int, float]:
    """Filled orders whose market has not resolved yet: count and USD at stake."""
    stmt = (
        select(func.count(func.distinct(OrderRow.id)), func.sum(FillRow.shares * FillRow.price))
        .join(FillRow, FillRow.order_id == OrderRow.id)
        .outerjoin(OutcomeRow, OutcomeRow.market_id == OrderRow.market_id)
        .where(OutcomeRow.market_id.is_(None))
    )
    count, cost = session.execute(stmt).one()
    return int(count or 0), float(cost or 0.0)


def skip_mix(*, session: Session) -> list[tuple[str, str, int]]:
    """(strategy, reason, count) of rejected candidates, most frequent first."""
    stmt = (
        select(SignalRow.strategy, SignalRow.reason, func.count())
        .where(SignalRow.status == "rejected")
        .group_by(SignalRow.strategy, SignalRow.reason)
        .order_by(func.count().desc())
    )
    return [(s, r, int(c)) for s, r, c in session.execute(stmt)]
