"""Ledger writes: small keyword-only functions, called inside the caller's transaction.

The driver wraps everything one tick produces in one transaction, so a crash
or Ctrl-C never leaves a signal without its order, or an order without its
fills and position.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from engine.core.frame import SignalFrame
from engine.core.types import Market, Resolution
from engine.execution.paper import ExecutionReport
from engine.ledger.models import (
    FillRow,
    MarketRow,
    OrderRow,
    OutcomeRow,
    PositionRow,
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


def record_frame(
    *,
    session: Session,
    frame: SignalFrame,
    keys: list[str],
    reports: Mapping[str, ExecutionReport],
    settings_version: int | None = None,
) -> None:
    """Store every row of ``frame`` as a signal; accepted rows with a report get an order.

    A row whose execution was refused is stored rejected with the venue's reason.
    A filled order adds its fills and opens the strategy's position.
    """
    ts = to_dt(frame.ts)
    signal_rows = []
    for i, key in enumerate(keys):
        report = reports.get(key)
        reason = frame.reason[i]
        if reason is None and report is not None and report.status == "rejected":
            reason = report.reason
        signal_rows.append(
            {
                "key": key,
                "ts": ts,
                "strategy": frame.strategy,
                "market_id": frame.market_id[i],
                "symbol": frame.symbol[i],
                "side": frame.side[i],
                "token_id": frame.token_id[i],
                "trigger": frame.trigger[i],
                "group_key": frame.group_key[i],
                "price": float(frame.price[i]),
                "fair": _opt(frame.fair[i]),
                "edge": _opt(frame.edge[i]),
                "z": _opt(frame.z[i]),
                "sigma": _opt(frame.sigma[i]),
                "t_remaining_s": float(frame.t_remaining_s[i]),
                "delta_1pct": _opt(frame.delta_1pct[i]),
                "gamma_1pct": _opt(frame.gamma_1pct[i]),
                "vega_1pt": _opt(frame.vega_1pt[i]),
                "theta_1min": _opt(frame.theta_1min[i]),
                "iv": _opt(frame.iv[i]),
                "iv_rv": _opt(frame.iv_rv[i]),
                "status": "accepted" if reason is None else "rejected",
                "reason": reason,
                "reason_value": _opt(frame.reason_value[i]),
                "stake": float(frame.stake[i]),
                "settings_version": settings_version,
            }
        )
    if signal_rows:
        session.execute(insert(SignalRow), signal_rows)
    for i, key in enumerate(keys):
        report = reports.get(key)
        if report is not None:
            _record_order(session=session, frame=frame, i=i, key=key, report=report, ts=ts)


def _record_order(*, session, frame, i, key, report, ts) -> None:  # noqa: ANN001
    order = OrderRow(
        signal_key=key,
        ts=ts,
        strategy=frame.strategy,
        market_id=frame.market_id[i],
        token_id=frame.token_id[i],
        side=frame.side[i],
        order_type=report.order_type,
        limit_price=report.limit_price,
        stake=float(frame.stake[i]),
        status=report.status,
        reason=report.reason,
        filled_shares=report.shares,
        cost=report.cost,
        fees=report.fees,
    )
    session.add(order)
    if not report.fills:
        return
    session.flush()
    session.execute(
        insert(FillRow),
        [
            {"order_id": order.id, "ts": ts, "price": f.price, "shares": f.shares, "fee": f.fee}
            for f in report.fills
        ],
    )
    position = session.scalars(
        select(PositionRow).where(
            PositionRow.strategy == frame.strategy,
            PositionRow.market_id == frame.market_id[i],
            PositionRow.side == frame.side[i],
        )
    ).one_or_none()
    if position is not None:  # a second entry on the same token (e.g. two headlines in one tick)
        position.shares += report.shares
        position.cost += report.cost
        position.fees += report.fees
        return
    session.add(
        PositionRow(
            strategy=frame.strategy,
            market_id=frame.market_id[i],
            side=frame.side[i],
            token_id=frame.token_id[i],
            shares=report.shares,
            cost=report.cost,
            fees=report.fees,
            opened_at=ts,
            status="open",
        )
    )


def record_resolution(*, session: Session, resolution: Resolution) -> list[PositionRow]:
    """Store how a market resolved and settle its open positions (idempotent).

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
                PositionRow.market_id == resolution.market_id, PositionRow.status == "open"
            )
        )
    )
    for p in positions:
        p.payout = p.shares if p.side == resolution.winner else 0.0
        p.pnl = p.payout - p.cost - p.fees
        p.status = "settled"
        p.closed_at = to_dt(resolution.ts)
    return positions


def last_written_ts(*, session: Session, market_prefix: str) -> float | None:
    """The latest instant anything was written for markets whose id starts with ``market_prefix``."""
    like = f"{market_prefix}%"
    candidates = [
        session.scalar(select(func.max(MarketRow.start_ts)).where(MarketRow.market_id.like(like))),
        session.scalar(select(func.max(SignalRow.ts)).where(SignalRow.market_id.like(like))),
        session.scalar(
            select(func.max(OutcomeRow.resolved_at)).where(OutcomeRow.market_id.like(like))
        ),
    ]
    found = [from_dt(c) for c in candidates if c is not None]
    return max(found) if found else None


def open_positions(*, session: Session) -> list[PositionRow]:
    return list(session.scalars(select(PositionRow).where(PositionRow.status == "open")))


def realized_pnl(*, session: Session) -> float:
    return float(session.scalar(select(func.coalesce(func.sum(PositionRow.pnl), 0.0))) or 0.0)


def signal_keys_for(*, session: Session, market_ids: Iterable[str]) -> set[str]:
    ids = list(market_ids)
    if not ids:
        return set()
    return set(session.scalars(select(SignalRow.key).where(SignalRow.market_id.in_(ids))))


__all__ = [
    "last_written_ts",
    "open_positions",
    "realized_pnl",
    "record_frame",
    "record_markets",
    "record_resolution",
    "signal_keys_for",
]
