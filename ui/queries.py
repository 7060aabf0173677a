"""Every read the dashboard makes: small cached functions that return typed frames.

Pages call only these (and the settings service for writes): the Ledger and
Live reads are here, the Greeks and Settings reads in :mod:`ui.greeks_reads`
and :mod:`ui.settings_reads`, re-exported here. Each returns a
frame whose columns are declared once in :data:`ui.frames.SCHEMAS`. The
ledger's numbers come from ``engine.ledger.queries`` (the functions behind
``edgeloop-ledger``), so the dashboard and the CLI cannot disagree. Results
are cached for :data:`~ui.frames.TTL` seconds; ``refresh()`` drops them after
a write.

Every read of what a run wrote (signals, orders, fills, positions,
calibrations, regime changes, breaker events) takes ``runs``: a tuple of run
ids, or None for every run (``edgeloop-ledger --run ID`` / ``--run all``).
Markets and outcomes are shared by the runs; a fill the venue reverted counts
nowhere.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pandas as pd
import streamlit as st
from sqlalchemy import func, or_, select

from engine.ledger import queries as lq
from engine.ledger.cli import runs_json
from engine.ledger.models import (
    BreakerEventRow,
    FillRow,
    MarketRow,
    OrderRow,
    OutcomeRow,
    PositionRow,
    RegimeChangeRow,
    RunRow,
    SignalRow,
)
from engine.ledger.runs import list_runs
from ui.frames import TTL, Runs, conform, db_url, session, tables, use_database
from ui.greeks_reads import (
    NEG_GAMMA,
    POS_GAMMA,
    centroids,
    fair_calibration,
    iv_rv_outcomes,
    open_gamma,
    sigma_depth,
    vol_band,
)
from ui.settings_reads import (
    effective_values,
    section,
    settings_current,
    settings_diff,
    settings_history,
    settings_store,
    settings_table,
    show,
)
from ui.stats import wilson_interval

__all__ = [  # what pages may use (the Greeks and Settings reads are re-exported)
    "NEG_GAMMA",
    "POS_GAMMA",
    "breaker_events",
    "centroids",
    "db_url",
    "effective_values",
    "equity_curve",
    "fair_calibration",
    "has_ledger",
    "iv_rv_outcomes",
    "ledger_notes",
    "ledger_summary",
    "live_status",
    "open_gamma",
    "recent_signals",
    "refresh",
    "regime_history",
    "runs_table",
    "section",
    "settings_current",
    "settings_diff",
    "settings_history",
    "settings_store",
    "settings_table",
    "show",
    "sigma_depth",
    "skip_mix",
    "strategies",
    "trades",
    "use_database",
    "vol_band",
]

Filters = tuple[tuple[str, ...] | None, date | None, date | None]


def refresh() -> None:
    """Forget every cached read (after a settings write)."""
    st.cache_data.clear()


def has_ledger(url: str) -> bool:
    return {"signals", "runs"} <= tables(url)  # an older ledger: `edgeloop` migrates it


# -- Runs -----------------------------------------------------------------------------


@st.cache_data(ttl=TTL, show_spinner=False)
def runs_table(url: str) -> pd.DataFrame:
    """Every run of the database, newest first (``edgeloop-ledger runs --json``)."""
    if "runs" not in tables(url):
        return conform("runs_table", [])
    with session(url) as s:
        rows = runs_json(list_runs(session=s))
    return conform("runs_table", rows[::-1])


# -- Ledger ---------------------------------------------------------------------------


def _with_wilson(rows: list[dict[str, Any]]) -> pd.DataFrame:
    for row in rows:
        row["wr_low"], row["wr_high"] = wilson_interval(row["wins"], row["trades"])
    return conform("ledger_summary", rows)


@st.cache_data(ttl=TTL, show_spinner=False)
def strategies(url: str, runs: Runs) -> pd.DataFrame:
    """Every strategy that proposed a candidate in ``runs``."""
    stmt = (
        select(SignalRow.strategy)
        .where(lq.in_runs(SignalRow.run_id, runs))
        .distinct()
        .order_by(SignalRow.strategy)
    )
    with session(url) as s:
        return conform("strategies", [{"strategy": n} for n in s.scalars(stmt)])


@st.cache_data(ttl=TTL, show_spinner=False)
def ledger_summary(
    url: str,
    runs: Runs,
    strategies: tuple[str, ...] | None = None,
    start: date | None = None,
    end: date | None = None,
) -> pd.DataFrame:
    """Per strategy and ``total``: ``edgeloop-ledger --run ... --json`` plus the Wilson 95 %
    interval.

    Without filters this is ``engine.ledger.queries.ledger`` itself; with a
    strategy or date filter (settle date, UTC) the same ``summarize`` runs on
    the filtered trades, and ``total`` covers the selected strategies only.
    """
    if strategies is None and start is None and end is None:
        with session(url) as s:
            return _with_wilson([r.as_dict() for r in lq.ledger(session=s, runs=runs)])
    chosen = _filter(_trade_rows(url, runs), strategies, start, end)
    names = sorted({t["strategy"] for t in chosen})
    trades = [_as_trade(t) for t in chosen]
    rows = [lq.summarize(n, [t for t in trades if t.strategy == n]) for n in names]
    return _with_wilson([r.as_dict() for r in [*rows, lq.summarize(lq.TOTAL, trades)]])


def _as_trade(t: dict[str, Any]) -> lq.Trade:
    grouped = t["side"] == "ARB"  # a multi-leg group, as ``_trade`` names it
    return lq.Trade(
        t["strategy"], t["shares"], t["payout"], t["cost"], t["fees"], t["won"], t["legs"], grouped
    )


def _filter(
    rows: list[dict[str, Any]],
    strategies: tuple[str, ...] | None,
    start: date | None,
    end: date | None,
    when: str = "settled_at",
) -> list[dict[str, Any]]:
    lo = datetime.combine(start, datetime.min.time(), UTC) if start else None
    hi = datetime.combine(end, datetime.min.time(), UTC) + timedelta(days=1) if end else None
    return [
        r
        for r in rows
        if (strategies is None or r["strategy"] in strategies)
        and (lo is None or r[when] >= lo)
        and (hi is None or r[when] < hi)
    ]


def _utc(ts: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; every stored time is UTC."""
    return ts.replace(tzinfo=UTC) if ts is not None and ts.tzinfo is None else ts


def _legs(runs: Runs) -> Any:
    """Every filled order of ``runs`` with its market, signal, outcome and standing fills."""
    standing = (FillRow.order_id == OrderRow.id) & FillRow.reverted.is_(False)
    return (
        select(
            OrderRow.id,
            OrderRow.strategy,
            OrderRow.market_id,
            MarketRow.symbol,
            SignalRow.group_key,
            OrderRow.side,
            OutcomeRow.winner,
            OrderRow.ts,
            OutcomeRow.resolved_at,
            SignalRow.fair,
            SignalRow.z,
            func.sum(FillRow.shares),
            func.sum(FillRow.shares * FillRow.price),
            func.sum(FillRow.fee),
            OrderRow.run_id,
        )
        .join(FillRow, standing)
        .join(SignalRow, lq.signal_of_order())
        .join(MarketRow, MarketRow.market_id == OrderRow.market_id)
        .outerjoin(OutcomeRow, OutcomeRow.market_id == OrderRow.market_id)
        .where(lq.in_runs(OrderRow.run_id, runs))
        .group_by(OrderRow.id, MarketRow.symbol, SignalRow.group_key, SignalRow.fair, SignalRow.z)
        .group_by(OutcomeRow.winner, OutcomeRow.resolved_at)
        .order_by(OrderRow.id)
    )


def _trade_rows(url: str, runs: Runs) -> list[dict[str, Any]]:
    """One dict per resolved trade of ``runs``, grouped like ``engine.ledger.queries``.

    A test checks that ``summarize`` over these equals ``ledger()`` exactly. The
    legs of a group are those of one run (a group key recurs when a run repeats another).
    """
    groups: dict[object, list[Any]] = {}
    with session(url) as s:
        for leg in s.execute(_legs(runs)):
            key = ("order", leg[0]) if leg[4] is None else (leg[14], leg[4])
            groups.setdefault(key, []).append(leg)
    return [
        _trade(legs, single=key[0] == "order")
        for key, legs in groups.items()
        if all(leg[6] is not None for leg in legs)  # open until every leg has resolved
    ]


def _trade(legs: list[Any], single: bool) -> dict[str, Any]:
    shares = [float(leg[11]) for leg in legs]
    payout = sum(s for s, leg in zip(shares, legs, strict=True) if leg[5] == leg[6])
    cost = sum(float(leg[12]) for leg in legs)
    fees = sum(float(leg[13]) for leg in legs)
    first = legs[0]
    return {
        "run_id": first[14],
        "trade_id": str(first[0]) if single else str(first[4]),
        "strategy": first[1],
        "market_id": first[2],
        "symbol": first[3],
        "side": first[5] if single else "ARB",
        "legs": len(legs),
        "opened_at": _utc(min(leg[7] for leg in legs)),
        "settled_at": _utc(max(leg[8] for leg in legs)),
        "shares": max(shares),
        "cost": cost,
        "fees": fees,
        "payout": payout,
        "pnl": payout - cost - fees,
        "won": payout > 0 if single else payout > cost + fees,
        "entry_price": (cost + fees) / max(shares),
        "fair": first[9] if single else None,
        "z": first[10] if single else None,
    }


@st.cache_data(ttl=TTL, show_spinner=False)
def trades(
    url: str,
    runs: Runs,
    strategies: tuple[str, ...] | None = None,
    start: date | None = None,
    end: date | None = None,
) -> pd.DataFrame:
    """Every resolved trade of ``runs`` (an arb's legs are one), the rows the ledger counts."""
    return conform("trades", _filter(_trade_rows(url, runs), strategies, start, end))


@st.cache_data(ttl=TTL, show_spinner=False)
def equity_curve(
    url: str,
    runs: Runs,
    strategies: tuple[str, ...] | None = None,
    start: date | None = None,
    end: date | None = None,
) -> pd.DataFrame:
    """Realized P&L after fees cumulated over settle time, from the settled positions.

    One row per settle time and strategy: ``pnl`` settled then, ``strategy_equity``
    that strategy's running total, ``equity`` the running total of the selection
    after everything that settled at that time.
    """
    stmt = (
        select(PositionRow.closed_at, PositionRow.strategy, PositionRow.pnl)
        .where(PositionRow.status == "settled", PositionRow.closed_at.is_not(None))
        .where(lq.in_runs(PositionRow.run_id, runs))
        .order_by(PositionRow.closed_at, PositionRow.id)
    )
    with session(url) as s:
        rows = [
            {"closed_at": _utc(c), "strategy": name, "pnl": float(p or 0.0)}
            for c, name, p in s.execute(stmt)
        ]
    chosen = _filter(rows, strategies, start, end, "closed_at")
    frame = pd.DataFrame(chosen, columns=pd.Index(["closed_at", "strategy", "pnl"]))
    frame = (
        frame.astype({"pnl": "float64"})
        .groupby(["closed_at", "strategy"], as_index=False, sort=True)["pnl"]
        .sum()
    )
    frame["strategy_equity"] = frame.groupby("strategy")["pnl"].cumsum()
    totals = frame.groupby("closed_at")["pnl"].sum().cumsum()
    frame["equity"] = frame["closed_at"].map(totals)
    return conform("equity_curve", frame)


@st.cache_data(ttl=TTL, show_spinner=False)
def ledger_notes(url: str, runs: Runs) -> pd.DataFrame:
    """What the CLI prints under its table: open exposure and multi-leg groups (one row)."""
    with session(url) as s:
        count, cost = lq.open_exposure(session=s, runs=runs)
        complete, partial = lq.group_fills(session=s, runs=runs)
    row = {"open_orders": count, "open_cost": cost}
    return conform("ledger_notes", [row | {"groups_complete": complete, "groups_partial": partial}])


@st.cache_data(ttl=TTL, show_spinner=False)
def skip_mix(url: str, runs: Runs, strategies: tuple[str, ...] | None = None) -> pd.DataFrame:
    """Rejected candidates per strategy x reason of ``runs`` (``edgeloop-ledger --skips``)."""
    with session(url) as s:
        mix = lq.skip_mix(session=s, runs=runs)
    rows = [
        {"strategy": st_, "reason": r or "?", "count": c}
        for st_, r, c in mix
        if strategies is None or st_ in strategies
    ]
    total = sum(r["count"] for r in rows) or 1
    return conform("skip_mix", [{**r, "share": r["count"] / total} for r in rows])


# -- Live -----------------------------------------------------------------------------


@st.cache_data(ttl=TTL, show_spinner=False)
def recent_signals(url: str, runs: Runs, limit: int = 50) -> pd.DataFrame:
    """The latest candidates of ``runs``, newest first, accepted or not."""
    cols = [SignalRow.run_id, SignalRow.ts, SignalRow.strategy, SignalRow.symbol, SignalRow.side]
    cols += [SignalRow.price, SignalRow.fair, SignalRow.edge, SignalRow.z, SignalRow.stake]
    cols += [SignalRow.status, SignalRow.reason, SignalRow.settings_version, SignalRow.market_id]
    stmt = (
        select(*cols)
        .where(lq.in_runs(SignalRow.run_id, runs))
        .order_by(SignalRow.ts.desc(), SignalRow.id.desc())
        .limit(limit)
    )
    with session(url) as s:
        rows = [dict(r._mapping) for r in s.execute(stmt)]
    return conform("recent_signals", pd.DataFrame(rows, columns=[c.key for c in cols]))


def _latest(s: Any, model: Any, runs: Runs) -> Any:
    stmt = select(model).where(lq.in_runs(model.run_id, runs))
    return s.scalar(stmt.order_by(model.id.desc()).limit(1))


def _count(s: Any, *where: Any) -> int:
    return s.scalar(select(func.count()).select_from(SignalRow).where(*where)) or 0


def _markets_tracked(s: Any, runs: Runs) -> int:
    """Listed markets without an outcome: those of ``runs``' feeds when each names its
    ``market_prefix`` (the simulator's), else every market (a live feed's are shared)."""
    unresolved = select(MarketRow.market_id).where(
        ~select(OutcomeRow.market_id).where(OutcomeRow.market_id == MarketRow.market_id).exists()
    )
    if runs is not None:
        idents = s.scalars(select(RunRow.feed_identity).where(RunRow.id.in_(runs)))
        prefixes = {(i or {}).get("market_prefix") for i in idents}
        if prefixes and all(prefixes):
            unresolved = unresolved.where(
                or_(*(MarketRow.market_id.startswith(p) for p in prefixes))
            )
    return s.scalar(select(func.count()).select_from(unresolved.subquery())) or 0


def _last_tick(s: Any, runs: Runs) -> datetime | None:
    """The feed instant through which ``runs`` stored their writes (the latest of them)."""
    return _utc(s.scalar(select(func.max(RunRow.last_ts)).where(lq.in_runs(RunRow.id, runs))))


@st.cache_data(ttl=TTL, show_spinner=False)
def live_status(url: str, runs: Runs, recent: int = 500) -> pd.DataFrame:
    """One row for ``runs``: regime, breaker, markets tracked, heartbeat and settings version.

    The ledger stores feed (engine) time only, so ``last_write`` is the run's
    ``last_ts`` (simulated time in a simulator run) and ``heartbeat_age_s`` is
    wall now minus it.
    """
    have = tables(url)
    mine = lq.in_runs(SignalRow.run_id, runs)
    with session(url) as s:
        regime = _latest(s, RegimeChangeRow, runs) if "regime_changes" in have else None
        breaker = _latest(s, BreakerEventRow, runs) if "breaker_events" in have else None
        opened = select(func.count()).where(
            PositionRow.status == "open", lq.in_runs(PositionRow.run_id, runs)
        )
        latest = (
            select(SignalRow.settings_version)
            .where(mine)
            .order_by(SignalRow.id.desc())
            .limit(recent)
        )
        last = _last_tick(s, runs)
        row = {
            "regime": regime.regime if regime else "CALM",
            "flip_rate": regime.flip_rate if regime else None,
            "regime_since": regime.ts if regime else None,
            "breaker": "tripped" if breaker is not None and breaker.event == "trip" else "armed",
            "breaker_cause": breaker.cause if breaker else "",
            "breaker_since": breaker.ts if breaker else None,
            "markets_tracked": _markets_tracked(s, runs),
            "open_positions": s.scalar(opened) or 0,
            "signals": _count(s, mine),
            "accepted": _count(s, mine, SignalRow.status == "accepted"),
            "last_write": last,
            "heartbeat_age_s": (datetime.now(UTC) - last).total_seconds() if last else None,
            "signals_version": s.scalar(select(func.max(latest.subquery().c.settings_version))),
        }
    row["store_version"] = settings_current(url).id if "settings_versions" in have else 0
    return conform("live_status", [row])


@st.cache_data(ttl=TTL, show_spinner=False)
def regime_history(url: str, runs: Runs) -> pd.DataFrame:
    """Every regime change of ``runs``, oldest first."""
    if "regime_changes" not in tables(url):
        return conform("regime_history", [])
    stmt = (
        select(RegimeChangeRow)
        .where(lq.in_runs(RegimeChangeRow.run_id, runs))
        .order_by(RegimeChangeRow.id)
    )
    with session(url) as s:
        rows = [
            {"ts": r.ts, "regime": r.regime, "flip_rate": r.flip_rate, "sample": r.sample}
            for r in s.scalars(stmt)
        ]
    return conform("regime_history", rows)


@st.cache_data(ttl=TTL, show_spinner=False)
def breaker_events(url: str, runs: Runs, limit: int = 20) -> pd.DataFrame:
    """The latest breaker trips and resets of ``runs``, newest first."""
    if "breaker_events" not in tables(url):
        return conform("breaker_events", [])
    stmt = (
        select(BreakerEventRow)
        .where(lq.in_runs(BreakerEventRow.run_id, runs))
        .order_by(BreakerEventRow.id.desc())
        .limit(limit)
    )
    with session(url) as s:
        rows = [
            {
                "ts": r.ts,
                "event": r.event,
                "cause": r.cause,
                "value": r.value,
                "detail": r.detail,
                "author": r.author,
            }
            for r in s.scalars(stmt)
        ]
    return conform("breaker_events", rows)
