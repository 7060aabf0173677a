"""Ledger writes: small keyword-only functions, called inside the caller's transaction.

The loop wraps everything one tick produces in one transaction, so a crash
or Ctrl-C never leaves a signal without its order, or an order without its
fills and position. Every row carries its run (``run_id``); markets and
outcomes are facts about the world, shared by the runs that saw them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np
from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from engine.core.frame import SignalFrame
from engine.core.types import (
    REJECTED,
    REVERTED,
    ExecutionReport,
    Fill,
    Market,
    Order,
    Resolution,
    WorkingOrder,
)
from engine.ledger.models import (
    BreakerEventRow,
    CalibrationRow,
    FillRow,
    MarketRow,
    OrderRow,
    OutcomeRow,
    PositionRow,
    RegimeChangeRow,
    RunRow,
    SignalRow,
)
from engine.timeutil import from_dt, to_dt


def record_markets(*, session: Session, markets: Iterable[Market], source: str) -> None:
    """Insert newly listed markets (ones already stored are left as they are)."""
    markets = list(markets)
    if not markets:
        return
    ids = [m.market_id for m in markets]
    known = set(session.scalars(select(MarketRow.market_id).where(MarketRow.market_id.in_(ids))))
    rows = [
        {
            "market_id": m.market_id,
            "symbol": m.symbol,
            "window_s": m.window_s,
            "start_ts": to_dt(m.start_ts),
            "end_ts": to_dt(m.end_ts),
            "strike": m.strike,
            "up_token": m.up_token,
            "down_token": m.down_token,
            "fee_rate": m.fee_rate,
            "source": source,
            "kind": m.kind,
            "event_id": m.event_id,
            "low": _opt(m.low),
            "high": _opt(m.high),
            "label": m.label or None,
            "augmented": m.augmented,
        }
        for m in markets
        if m.market_id not in known
    ]
    if rows:
        session.execute(insert(MarketRow), rows)


def _opt(x: float) -> float | None:
    return None if x != x else float(x)  # NaN -> NULL


NULLABLE_SIGNAL_FLOATS = (
    "fair", "edge", "z", "sigma", "delta_1pct", "gamma_1pct", "vega_1pt", "theta_1min", "iv",
    "iv_rv",
)  # fmt: skip


def _floats(column) -> list[float]:  # noqa: ANN001 - a numpy array
    return np.asarray(column, dtype=float).tolist()


def _nullable(column) -> list[float | None]:  # noqa: ANN001 - a numpy array, NaN -> NULL
    values = np.asarray(column, dtype=float)
    out = values.tolist()
    if np.isnan(values).any():
        for i in np.flatnonzero(np.isnan(values)).tolist():
            out[i] = None
    return out


def record_decisions(
    *,
    session: Session,
    run_id: int,
    frame: SignalFrame,
    keys: list[str],
    submitted: Mapping[str, tuple[Order, ExecutionReport]],
    settings_version: int | None = None,
) -> None:
    """Store every row of ``frame`` as a signal; each submitted row gets its order.

    A row the venue refused at once is stored rejected with the venue's reason; an
    accepted order is stored working (``done`` false) until its reports end it.
    """
    ts = to_dt(frame.ts)
    reasons = frame.reason.tolist()
    for i, key in enumerate(keys):
        sent = submitted.get(key)
        if reasons[i] is None and sent is not None and sent[1].state == REJECTED:
            reasons[i] = sent[1].reason
    # Column-wise: one numpy -> list conversion per column, not one float() per cell.
    n = len(keys)
    const = {"run_id": run_id, "ts": ts, "strategy": frame.strategy}
    cols = {
        "key": keys,
        "market_id": frame.market_id.tolist(),
        "symbol": frame.symbol.tolist(),
        "side": frame.side.tolist(),
        "token_id": frame.token_id.tolist(),
        "trigger": frame.trigger.tolist(),
        "group_key": frame.group_key.tolist(),
        "price": _floats(frame.price),
        **{name: _nullable(frame.cols[name]) for name in NULLABLE_SIGNAL_FLOATS},
        "t_remaining_s": _floats(frame.t_remaining_s),
        "status": ["accepted" if r is None else "rejected" for r in reasons],
        "reason": reasons,
        "reason_value": _nullable(frame.reason_value),
        "stake": _floats(frame.stake),
    }
    names = list(cols)
    signal_rows = (
        [
            {**const, **dict(zip(names, values, strict=True)), "settings_version": settings_version}
            for values in zip(*(cols[k] for k in names), strict=True)
        ]
        if n
        else []
    )
    if signal_rows:
        session.execute(SignalRow.__table__.insert(), signal_rows)
    order_rows = [
        {
            "run_id": run_id,
            "signal_key": order.key,
            "ts": ts,
            "strategy": order.strategy,
            "market_id": order.market_id,
            "token_id": order.token_id,
            "side": order.side,
            "order_type": report.order_type,
            "price": order.price,
            "limit_price": report.limit_price,
            "stake": order.stake,
            "fee_rate": order.fee_rate,
            "status": report.state,
            "reason": report.reason,
            "filled_shares": 0.0,
            "cost": 0.0,
            "fees": 0.0,
            "expire_ts": to_dt(order.expire_ts),
            "done": report.done,
            "updated_at": ts,
        }
        for order, report in submitted.values()
    ]
    if order_rows:
        session.execute(insert(OrderRow), order_rows)


def apply_reports(
    *,
    session: Session,
    run_id: int,
    reports: Iterable[ExecutionReport],
    arrivals: Mapping[str, float],
) -> None:
    """Store what the venue reported: fills (and the positions they open), ends, reverts.

    ``arrivals``: order key -> when it reached the book, for orders reported for the first time.
    """
    reports = list(reports)
    wanted = {r.key for r in reports}
    orders = {
        o.signal_key: o
        for o in session.scalars(
            select(OrderRow).where(OrderRow.run_id == run_id, OrderRow.signal_key.in_(wanted))
        )
    }  # one read for the tick's reports
    for report in reports:
        order = orders.get(report.key)
        if order is None:
            raise LookupError(f"run {run_id} has no order {report.key!r} to apply a report to")
        at = to_dt(report.ts)
        order.updated_at = at
        if report.key in arrivals and order.arrive_ts is None:
            order.arrive_ts = to_dt(arrivals[report.key])
        if report.latency_s is not None:
            order.latency_ms = round(1000.0 * report.latency_s, 3)
        if report.state == REVERTED:
            _revert(session, run_id, order, report)
            continue
        order.status = report.state
        order.done = report.done
        if report.reason is not None:
            order.reason = report.reason
        if report.fills:
            _record_fills(session, run_id, order, report)
        if report.done and order.filled_shares <= 0.0:
            # Nothing traded: the candidate counts as skipped, with the venue's reason.
            session.execute(
                update(SignalRow)
                .where(SignalRow.run_id == run_id, SignalRow.key == report.key)
                .values(status="rejected", reason=report.reason)
            )


def _record_fills(session: Session, run_id: int, order: OrderRow, report: ExecutionReport) -> None:
    at = to_dt(report.ts)
    session.execute(
        insert(FillRow),
        [
            {
                "run_id": run_id,
                "order_id": order.id,
                "ts": at,
                "price": f.price,
                "shares": f.shares,
                "fee": f.fee,
                "level_size": _opt(f.level_size),
            }
            for f in report.fills
        ],
    )
    order.filled_shares = round(order.filled_shares + report.shares, 6)
    order.cost = order.cost + report.cost
    order.fees = round(order.fees + report.fees, 5)
    position = _position(session, run_id, order)
    if position is not None:  # a second entry on the same token (e.g. two headlines)
        position.shares = round(position.shares + report.shares, 6)
        position.cost += report.cost
        position.fees = round(position.fees + report.fees, 5)
        if position.status == "void":
            position.status = "open"
        return
    session.add(
        PositionRow(
            run_id=run_id,
            strategy=order.strategy,
            market_id=order.market_id,
            side=order.side,
            token_id=order.token_id,
            shares=report.shares,
            cost=report.cost,
            fees=report.fees,
            opened_at=at,
            status="open",
        )
    )
    session.flush()


def _position(session: Session, run_id: int, order: OrderRow) -> PositionRow | None:
    return session.scalars(
        select(PositionRow).where(
            PositionRow.run_id == run_id,
            PositionRow.strategy == order.strategy,
            PositionRow.market_id == order.market_id,
            PositionRow.side == order.side,
        )
    ).one_or_none()


def _revert(session: Session, run_id: int, order: OrderRow, report: ExecutionReport) -> None:
    """Take back the fills of ``report``: they count nowhere from now on."""
    for f in report.fills:
        row = session.scalars(
            select(FillRow)
            .where(
                FillRow.order_id == order.id,
                FillRow.ts == to_dt(f.ts),
                FillRow.price == f.price,
                FillRow.reverted.is_(False),
            )
            .limit(1)
        ).first()
        if row is not None:
            row.reverted = True
    order.filled_shares = max(round(order.filled_shares - report.shares, 6), 0.0)
    order.cost = max(order.cost - report.cost, 0.0) if order.filled_shares > 0 else 0.0
    order.fees = max(round(order.fees - report.fees, 5), 0.0) if order.filled_shares > 0 else 0.0
    order.reason = report.reason
    if order.filled_shares <= 0.0:
        order.status = REVERTED
    position = _position(session, run_id, order)
    if position is not None and position.status == "open":
        position.shares = max(round(position.shares - report.shares, 6), 0.0)
        position.cost = max(position.cost - report.cost, 0.0) if position.shares > 0 else 0.0
        position.fees = (
            max(round(position.fees - report.fees, 5), 0.0) if position.shares > 0 else 0.0
        )
        if position.shares <= 0.0:
            position.status = "void"


def record_resolution(
    *, session: Session, run_id: int, resolution: Resolution
) -> list[PositionRow]:
    """Store how a market resolved (once per database) and settle the run's open positions.

    Returns the positions it settled.
    """
    exists = session.get(OutcomeRow, resolution.market_id)
    if exists is None:
        if session.get(MarketRow, resolution.market_id) is None:
            return []  # listed before this ledger began: nothing of ours to settle
        session.add(
            OutcomeRow(
                market_id=resolution.market_id,
                winner=resolution.winner,
                start_price=resolution.start_price,
                end_price=resolution.end_price,
                resolved_at=to_dt(resolution.ts),
            )
        )
    positions = list(
        session.scalars(
            select(PositionRow).where(
                PositionRow.run_id == run_id,
                PositionRow.market_id == resolution.market_id,
                PositionRow.status == "open",
            )
        )
    )
    for p in positions:
        p.payout = p.shares if p.side == resolution.winner else 0.0
        p.pnl = p.payout - p.cost - p.fees
        p.status = "settled"
        p.closed_at = to_dt(resolution.ts)
    return positions


def last_written_ts(*, session: Session, run_id: int) -> float | None:
    """The latest tick whose writes changed run ``run_id``'s rows (None: it has none yet).

    Ticks after it wrote nothing of the run's own (at most shared markets and outcomes,
    which a replay writes again idempotently), so a resume from here is exact.
    """
    candidates = [
        select(func.max(RunRow.last_ts)).where(RunRow.id == run_id),
        select(func.max(SignalRow.ts)).where(SignalRow.run_id == run_id),
        select(func.max(OrderRow.updated_at)).where(OrderRow.run_id == run_id),
        select(func.max(FillRow.ts)).where(FillRow.run_id == run_id),
        select(func.max(PositionRow.closed_at)).where(PositionRow.run_id == run_id),
        select(func.max(CalibrationRow.ts)).where(CalibrationRow.run_id == run_id),
        select(func.max(RegimeChangeRow.ts)).where(RegimeChangeRow.run_id == run_id),
        select(func.max(BreakerEventRow.ts)).where(
            BreakerEventRow.run_id == run_id, BreakerEventRow.author == "engine"
        ),
    ]
    found = [from_dt(ts) for ts in (session.scalar(c) for c in candidates) if ts is not None]
    return max(found) if found else None


def open_positions(*, session: Session, run_id: int) -> list[PositionRow]:
    return list(
        session.scalars(
            select(PositionRow).where(PositionRow.run_id == run_id, PositionRow.status == "open")
        )
    )


def realized_pnl(*, session: Session, run_id: int) -> float:
    total = session.scalar(
        select(func.coalesce(func.sum(PositionRow.pnl), 0.0)).where(PositionRow.run_id == run_id)
    )
    return float(total or 0.0)


def signal_keys_for(*, session: Session, run_id: int, market_ids: Iterable[str]) -> set[str]:
    ids = list(market_ids)
    if not ids:
        return set()
    return set(
        session.scalars(
            select(SignalRow.key).where(SignalRow.run_id == run_id, SignalRow.market_id.in_(ids))
        )
    )


def working_orders(*, session: Session, run_id: int) -> list[WorkingOrder]:
    """The run's orders a venue still works on, as it submitted them."""
    rows = session.scalars(
        select(OrderRow)
        .where(OrderRow.run_id == run_id, OrderRow.done.is_(False))
        .order_by(OrderRow.id)
    )
    return [
        WorkingOrder(
            order=Order(
                key=r.signal_key,
                ts=from_dt(r.ts),
                strategy=r.strategy,
                market_id=r.market_id,
                token_id=r.token_id,
                side=r.side,
                price=float(r.price if r.price is not None else r.limit_price),
                stake=r.stake,
                fee_rate=float(r.fee_rate or 0.0),
                expire_ts=from_dt(r.expire_ts) if r.expire_ts is not None else float("inf"),
            ),
            limit_price=r.limit_price,
            order_type=r.order_type,
            arrive_ts=from_dt(r.arrive_ts) if r.arrive_ts is not None else float("nan"),
            spent=r.cost,
            shares=r.filled_shares,
        )
        for r in rows
    ]


def recent_fills(
    *, session: Session, run_id: int, since: float
) -> list[tuple[str, str, str, Fill]]:
    """The run's standing fills after ``since``: (order key, market, token, fill)."""
    rows = session.execute(
        select(OrderRow.signal_key, OrderRow.market_id, OrderRow.token_id, FillRow)
        .join(FillRow, FillRow.order_id == OrderRow.id)
        .where(
            FillRow.run_id == run_id,
            FillRow.ts > to_dt(since),
            FillRow.reverted.is_(False),
        )
        .order_by(FillRow.id)
    )
    return [
        (
            key,
            market,
            token,
            Fill(
                f.price,
                f.shares,
                f.fee,
                from_dt(f.ts),
                f.level_size if f.level_size is not None else float("nan"),
            ),
        )
        for key, market, token, f in rows
    ]


__all__ = [
    "apply_reports",
    "last_written_ts",
    "open_positions",
    "realized_pnl",
    "recent_fills",
    "record_decisions",
    "record_markets",
    "record_resolution",
    "signal_keys_for",
    "working_orders",
]
