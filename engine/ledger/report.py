"""The numbers of ``edgeloop-report``: one run's ledger with the uncertainty beside each rate.

:func:`build_report` reads one run; every other function is pure, so each number can be
tested without a database or a plot. The ledger's own numbers (trades, wins, WR, break-even,
P&L after fees, fees, p-value) come from :func:`engine.ledger.queries.summarize` over
:func:`~engine.ledger.queries.resolved_trades`, so the report and ``edgeloop-ledger`` agree.
What the report adds, wherever a number could flatter:

- a win rate's 95 % interval is Wilson's score interval; the per-share win rate's uses Kish's
  effective number of trades ``(sum w)^2 / sum w^2`` (weights: shares), so a few large
  trades do not count as many;
- a mean (P&L per trade, a Brier score) carries a Student-t 95 % interval;
- the equity curve is realized P&L after fees cumulated over settle time, from the run's
  settled positions (as the dashboard draws it); its drawdown is equity minus its running
  peak, the peak starting at 0.

Sigma bins and the calibration diagram cover directional entries (filled single-leg orders
whose market resolved); arb groups are in the per-strategy rows only. A bin's "sigma" is
``|z|``, the size of the move that triggered the entry in standard deviations (what the
sigma gate tests), not the annualised volatility ``signals.sigma``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import stdtrit
from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from engine.core.stats import Z95, wilson_bounds
from engine.ledger.cli import run_line
from engine.ledger.models import FillRow, OrderRow, OutcomeRow, PositionRow, RunRow, SignalRow
from engine.ledger.queries import (
    TOTAL,
    LedgerRow,
    Trade,
    open_exposure,
    resolved_trades,
    signal_of_order,
    skip_mix,
    summarize,
)
from engine.timeutil import from_dt, to_dt

# Edges of the |z| bins; the last bin is open above.
SIGMA_EDGES = (0.0, 1.0, 1.5, 2.0, 2.5, 3.0)
NO_Z = "no z"  # entries of strategies that do not price a move (copy trading, news)


@dataclass(frozen=True)
class Interval:
    """A two-sided 95 % interval; both ends NaN where the sample cannot give one."""

    low: float
    high: float


UNDEFINED = Interval(math.nan, math.nan)


def wilson_interval(successes: float, n: float, z: float = Z95) -> Interval:
    """The Wilson score interval of the rate ``successes / n`` (:func:`wilson_bounds`); ``n``
    may be fractional (an effective sample size). Undefined when ``n`` is 0."""
    if n == 0 and successes == 0:
        return UNDEFINED
    return Interval(*wilson_bounds(successes, n, z))


def mean_interval(values: ArrayLike) -> tuple[float | None, Interval]:
    """The mean and its Student-t 95 % interval (None without values; undefined below 2)."""
    x = np.asarray(values, dtype=float).ravel()
    if x.size == 0:
        return None, UNDEFINED
    mean = float(x.mean())
    if x.size < 2:
        return mean, UNDEFINED
    half = float(stdtrit(x.size - 1, 0.975)) * float(x.std(ddof=1)) / math.sqrt(x.size)
    return mean, Interval(mean - half, mean + half)


def brier_score(p: ArrayLike, won: ArrayLike) -> tuple[float | None, Interval]:
    """Mean of ``(p - won)^2`` over the entries, with its 95 % interval clipped to [0, 1]
    (0 is a perfect forecast, 0.25 a coin flip called at 0.5)."""
    score, ci = mean_interval((np.asarray(p, dtype=float) - np.asarray(won, dtype=float)) ** 2)
    if math.isnan(ci.low):
        return score, ci
    return score, Interval(max(ci.low, 0.0), min(ci.high, 1.0))


@dataclass(frozen=True)
class Row:
    """A ledger row (a strategy, the total, a sigma bin) with 95 % intervals on its rates
    and on its mean P&L per trade."""

    ledger: LedgerRow
    win_rate_ci: Interval
    win_rate_shares_ci: Interval
    mean_pnl: float | None
    mean_pnl_ci: Interval


def with_intervals(label: str, trades: Sequence[Trade]) -> Row:
    """:func:`~engine.ledger.queries.summarize` of ``trades`` and its intervals."""
    row = summarize(label, list(trades))
    mean, mean_ci = mean_interval([t.pnl for t in trades])
    if not trades:
        return Row(row, UNDEFINED, UNDEFINED, mean, mean_ci)
    weights = np.array([t.max_payout for t in trades])
    n_eff = float(weights.sum() ** 2 / (weights**2).sum())
    shares_won = min(max(row.win_rate_shares * n_eff, 0.0), n_eff)
    return Row(
        row,
        wilson_interval(row.wins, row.trades),
        wilson_interval(shares_won, n_eff),
        mean,
        mean_ci,
    )


def strategy_rows(trades: Sequence[Trade]) -> list[Row]:
    """Per strategy (alphabetical), then ``total``: the rows of ``edgeloop-ledger``."""
    names = sorted({t.strategy for t in trades})
    rows = [with_intervals(name, [t for t in trades if t.strategy == name]) for name in names]
    return [*rows, with_intervals(TOTAL, trades)]


@dataclass(frozen=True)
class Entry:
    """A directional entry: a filled single-leg order whose market resolved, with the
    signal it came from (``z``, ``fair`` None where the strategy does not price them)."""

    trade: Trade
    z: float | None
    fair: float | None
    price: float  # the token's best ask when the entry was decided


def sigma_label(abs_z: float | None) -> str:
    """The |z| bin of an entry: ``0-1``, ``1-1.5``, ..., ``>=3``, or ``no z``."""
    if abs_z is None:
        return NO_Z
    for low, high in zip(SIGMA_EDGES, SIGMA_EDGES[1:], strict=False):
        if abs_z < high:
            return f"{low:g}-{high:g}"
    return f">={SIGMA_EDGES[-1]:g}"


def sigma_bins(entries: Sequence[Entry]) -> list[Row]:
    """One row per non-empty |z| bin, from the smallest moves up, ``no z`` last."""
    labels = [sigma_label(None if e.z is None else abs(e.z)) for e in entries]
    order = [*(sigma_label(low) for low in SIGMA_EDGES), NO_Z]
    return [
        with_intervals(
            label, [e.trade for e, lab in zip(entries, labels, strict=True) if lab == label]
        )
        for label in order
        if label in labels
    ]


@dataclass(frozen=True)
class ReliabilityBin:
    """Entries whose forecast fell in ``[low, high)`` (the last bin includes 1)."""

    low: float
    high: float
    n: int
    mean_p: float
    wins: int
    win_rate: float
    interval: Interval


def reliability_bins(p: ArrayLike, won: ArrayLike, bins: int = 10) -> list[ReliabilityBin]:
    """The non-empty bins of a reliability diagram: equal-width bins of [0, 1], forecasts
    clipped into it; a calibrated forecast's win rates lie on the diagonal."""
    probs = np.clip(np.asarray(p, dtype=float), 0.0, 1.0)
    hits = np.asarray(won, dtype=bool)
    index = np.minimum((probs * bins).astype(int), bins - 1)
    out = []
    for b in np.unique(index).tolist():
        mask = index == b
        n, wins = int(mask.sum()), int(hits[mask].sum())
        out.append(
            ReliabilityBin(
                b / bins,
                (b + 1) / bins,
                n,
                float(probs[mask].mean()),
                wins,
                wins / n,
                wilson_interval(wins, n),
            )
        )
    return out


@dataclass(frozen=True)
class Calibration:
    """Fair value N(d2) of the side bought against the outcomes, beside the market's ask.

    ``gap``: the model's Brier score minus the ask's, paired per entry (negative: the model
    forecast the outcomes better than the price it paid)."""

    entries: int
    bins: list[ReliabilityBin]
    market_bins: list[ReliabilityBin]
    brier: float | None
    brier_ci: Interval
    market_brier: float | None
    market_brier_ci: Interval
    gap: float | None
    gap_ci: Interval


def calibration(fair: ArrayLike, price: ArrayLike, won: ArrayLike, bins: int = 10) -> Calibration:
    """Reliability bins and Brier scores of ``fair`` and of ``price`` on the same entries."""
    f, p = np.asarray(fair, dtype=float), np.asarray(price, dtype=float)
    y = np.asarray(won, dtype=float)
    brier, brier_ci = brier_score(f, y)
    market, market_ci = brier_score(p, y)
    gap, gap_ci = mean_interval((f - y) ** 2 - (p - y) ** 2)
    return Calibration(
        int(f.size),
        reliability_bins(f, y, bins),
        reliability_bins(p, y, bins),
        brier,
        brier_ci,
        market,
        market_ci,
        gap,
        gap_ci,
    )


@dataclass(frozen=True)
class EquityCurve:
    """Realized P&L after fees after each settle time, and its drawdown from the running peak.

    Positions that settle at one instant (a window's markets all end together) are one step:
    their order within the instant is arbitrary and must not make a drawdown."""

    settlements: int  # settled positions
    times: tuple[datetime, ...]  # distinct settle times, ascending
    equity: tuple[float, ...]
    drawdown: tuple[float, ...]  # equity - max(0, running max of equity): <= 0

    @property
    def final(self) -> float:
        return self.equity[-1] if self.equity else 0.0

    @property
    def max_drawdown(self) -> float:
        """The deepest drawdown (<= 0; 0 without settlements)."""
        return min(self.drawdown, default=0.0)


def equity_curve(times: Sequence[datetime], pnl: ArrayLike) -> EquityCurve:
    """The curve of settlements at ``times`` (ascending) realizing ``pnl`` each."""
    values = np.asarray(pnl, dtype=float)
    steps: dict[datetime, float] = {}
    for at, x in zip(times, values.tolist(), strict=True):
        steps[at] = steps.get(at, 0.0) + x
    equity = np.cumsum(list(steps.values()), dtype=float)
    peak = np.maximum.accumulate(np.maximum(equity, 0.0)) if equity.size else equity
    drawdown = equity - peak
    return EquityCurve(values.size, tuple(steps), tuple(equity.tolist()), tuple(drawdown.tolist()))


@dataclass(frozen=True)
class OrderMix:
    """A strategy's orders by status and how many filled (a fill that stands)."""

    strategy: str
    by_status: dict[str, int]
    orders: int
    filled: int
    fill_rate: float | None
    interval: Interval


def order_mix(rows: Sequence[tuple[str, str, int, int]]) -> list[OrderMix]:
    """Per strategy (alphabetical), then ``total``, from (strategy, status, orders, filled)."""

    def mix(name: str, mine: list[tuple[str, str, int, int]]) -> OrderMix:
        by_status: dict[str, int] = {}
        for _, status, count, _ in mine:
            by_status[status] = by_status.get(status, 0) + count
        n, filled = sum(r[2] for r in mine), sum(r[3] for r in mine)
        rate = filled / n if n else None
        return OrderMix(name, by_status, n, filled, rate, wilson_interval(filled, n))

    names = sorted({r[0] for r in rows})
    return [*(mix(s, [r for r in rows if r[0] == s]) for s in names), mix(TOTAL, list(rows))]


@dataclass(frozen=True)
class Report:
    """Everything ``edgeloop-report`` shows of one run."""

    run_id: int
    title: str  # the run as ``edgeloop-ledger`` heads its table
    strategies: list[Row]  # then the total row
    equity: EquityCurve
    open_orders: int
    open_cost: float
    sigma: list[Row]
    calibration: Calibration
    signals: list[tuple[str, int]]  # (status, count)
    skips: list[tuple[str, str, int]]  # (strategy, reason, count) of rejected candidates
    orders: list[OrderMix]

    @property
    def verdict(self) -> str:
        return self.strategies[-1].ledger.verdict


def build_report(*, session: Session, run: RunRow) -> Report:
    """Read ``run`` from the ledger and compute its report."""
    runs = [run.id]
    entries = _entries(session=session, run_id=run.id)
    priced = [e for e in entries if e.fair is not None]
    open_orders, open_cost = open_exposure(session=session, runs=runs)
    return Report(
        run_id=run.id,
        title=run_line(run),
        strategies=strategy_rows(resolved_trades(session=session, runs=runs)),
        equity=equity_curve(*_settlements(session=session, run_id=run.id)),
        open_orders=open_orders,
        open_cost=open_cost,
        sigma=sigma_bins(entries),
        calibration=calibration(
            [e.fair for e in priced], [e.price for e in priced], [e.trade.won for e in priced]
        ),
        signals=_signal_status(session=session, run_id=run.id),
        skips=skip_mix(session=session, runs=runs),
        orders=order_mix(_orders(session=session, run_id=run.id)),
    )


def _entries(*, session: Session, run_id: int) -> list[Entry]:
    """Filled single-leg orders whose market resolved, as trades the ledger counts (from the
    fills that stand) with their signal's z, fair value and ask."""
    stmt = (
        select(
            OrderRow.strategy,
            OrderRow.side == OutcomeRow.winner,
            func.sum(FillRow.shares),
            func.sum(FillRow.shares * FillRow.price),
            func.sum(FillRow.fee),
            SignalRow.z,
            SignalRow.fair,
            SignalRow.price,
        )
        .join(FillRow, (FillRow.order_id == OrderRow.id) & FillRow.reverted.is_(False))
        .join(SignalRow, signal_of_order())
        .join(OutcomeRow, OutcomeRow.market_id == OrderRow.market_id)
        .where(OrderRow.run_id == run_id, SignalRow.group_key.is_(None))
        .group_by(
            OrderRow.id,
            OrderRow.strategy,
            OrderRow.side,
            OutcomeRow.winner,
            SignalRow.z,
            SignalRow.fair,
            SignalRow.price,
        )
        .order_by(OrderRow.id)
    )
    out = []
    for strategy, won, shares, cost, fees, z, fair, price in session.execute(stmt):
        won = bool(won)
        shares = float(shares)
        trade = Trade(strategy, shares, shares if won else 0.0, float(cost), float(fees), won)
        out.append(Entry(trade, _opt(z), _opt(fair), float(price)))
    return out


def _opt(x: object) -> float | None:
    return None if x is None else float(x)  # type: ignore[arg-type]


def _settlements(*, session: Session, run_id: int) -> tuple[list[datetime], list[float]]:
    """Settle times and realized P&L after fees of the run's settled positions, in order."""
    stmt = (
        select(PositionRow.closed_at, PositionRow.pnl)
        .where(PositionRow.run_id == run_id, PositionRow.status == "settled")
        .where(PositionRow.closed_at.is_not(None))
        .order_by(PositionRow.closed_at, PositionRow.id)
    )
    rows = session.execute(stmt).all()
    return [to_dt(from_dt(r[0])) for r in rows], [float(r[1] or 0.0) for r in rows]


def _signal_status(*, session: Session, run_id: int) -> list[tuple[str, int]]:
    """(status, count) of the run's signals, most frequent first."""
    stmt = (
        select(SignalRow.status, func.count())
        .where(SignalRow.run_id == run_id)
        .group_by(SignalRow.status)
        .order_by(func.count().desc())
    )
    return [(str(s), int(c)) for s, c in session.execute(stmt)]


def _orders(*, session: Session, run_id: int) -> list[tuple[str, str, int, int]]:
    """(strategy, status, orders, filled) of the run; filled: orders with a fill that stands."""
    filled = func.sum(case((OrderRow.filled_shares > 0, 1), else_=0))
    stmt = (
        select(OrderRow.strategy, OrderRow.status, func.count(), filled)
        .where(OrderRow.run_id == run_id)
        .group_by(OrderRow.strategy, OrderRow.status)
    )
    return [(s, st, int(n), int(f or 0)) for s, st, n, f in session.execute(stmt)]
