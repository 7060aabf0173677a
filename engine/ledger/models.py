"""The ledger's tables: one typed SQLAlchemy 2 model per table, nothing else.

Alembic (``migrations/``) is the only way the schema changes; nothing calls
``create_all``. Times are timezone-aware UTC; money is USD as float (the
venue quotes 0.01 ticks and fees rounded to 5 decimals, far inside double
precision), shares are floats (the venue allows fractional shares).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Integer,
    MetaData,
    String,
    UniqueConstraint,
    false,
    true,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


UtcDateTime = DateTime(timezone=True)


class RunRow(Base):
    """One run of the engine: what it traded, on which feed, with which configuration.

    Every signal, order, fill, position, calibration, regime change and breaker event
    carries its run, so several runs share a database without mixing. ``fingerprint``
    hashes the configuration that decides what the run does (everything but pacing,
    duration, logging and the database): a run is resumed only by one with the same.
    ``started_at``/``ended_at`` are wall-clock times; ``first_ts``/``last_ts`` the feed's
    instants of its first tick and of the last tick whose writes are stored.
    ``status``: ``running``, ``finished``, ``stopped`` (Ctrl-C) or ``failed``.
    """

    __tablename__ = "runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str | None] = mapped_column(String(128), unique=True)
    mode: Mapped[str] = mapped_column(String(16))
    feed: Mapped[str] = mapped_column(String(32))
    seed: Mapped[int | None] = mapped_column(Integer)
    fingerprint: Mapped[str] = mapped_column(String(64))
    feed_identity: Mapped[dict] = mapped_column(JSON)
    config: Mapped[dict] = mapped_column(JSON)
    settings_version: Mapped[int] = mapped_column(Integer, default=0)
    started_at: Mapped[datetime] = mapped_column(UtcDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    status: Mapped[str] = mapped_column(String(16), index=True)
    first_ts: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_ts: Mapped[datetime | None] = mapped_column(UtcDateTime)


def run_fk() -> Mapped[int]:
    return mapped_column(ForeignKey("runs.id"), index=True)


class MarketRow(Base):
    """An Up/Down market the engine saw listed."""

    __tablename__ = "markets"

    market_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    symbol: Mapped[str] = mapped_column(String(16), index=True)
    window_s: Mapped[int] = mapped_column(Integer)
    start_ts: Mapped[datetime] = mapped_column(UtcDateTime)
    end_ts: Mapped[datetime] = mapped_column(UtcDateTime)
    strike: Mapped[float] = mapped_column(Float)
    up_token: Mapped[str] = mapped_column(String(160))
    down_token: Mapped[str] = mapped_column(String(160))
    fee_rate: Mapped[float] = mapped_column(Float)
    source: Mapped[str] = mapped_column(String(16))
    # "updown", or "range": one outcome of a neg-risk event (see engine.core.types.Market).
    kind: Mapped[str] = mapped_column(String(16), server_default="updown")
    event_id: Mapped[str | None] = mapped_column(String(128), index=True)
    low: Mapped[float | None] = mapped_column(Float)
    high: Mapped[float | None] = mapped_column(Float)
    label: Mapped[str | None] = mapped_column(String(128))
    augmented: Mapped[bool] = mapped_column(Boolean, server_default=false())


class SignalRow(Base):
    """Every candidate a strategy proposed, accepted or not.

    ``key`` is the idempotency key (strategy, market, side, trigger): a
    restart that proposes the same candidate finds it here and does nothing.
    A rejected candidate keeps the stage that rejected it (``reason``, e.g.
    ``gate.dead_zone`` or ``exec.min_notional``) and the value that failed.
    """

    __tablename__ = "signals"
    __table_args__ = (UniqueConstraint("run_id", "key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = run_fk()
    key: Mapped[str] = mapped_column(String(255))
    ts: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    strategy: Mapped[str] = mapped_column(String(64), index=True)
    market_id: Mapped[str] = mapped_column(ForeignKey("markets.market_id"), index=True)
    symbol: Mapped[str] = mapped_column(String(16))
    side: Mapped[str] = mapped_column(String(8))
    token_id: Mapped[str] = mapped_column(String(160))
    trigger: Mapped[str] = mapped_column(String(64))
    # Legs of one multi-leg candidate (an arb) share a group key; None for single-leg.
    group_key: Mapped[str | None] = mapped_column(String(255), index=True)
    price: Mapped[float] = mapped_column(Float)
    fair: Mapped[float | None] = mapped_column(Float)
    edge: Mapped[float | None] = mapped_column(Float)
    z: Mapped[float | None] = mapped_column(Float)
    sigma: Mapped[float | None] = mapped_column(Float)
    t_remaining_s: Mapped[float] = mapped_column(Float)
    delta_1pct: Mapped[float | None] = mapped_column(Float)
    gamma_1pct: Mapped[float | None] = mapped_column(Float)
    vega_1pt: Mapped[float | None] = mapped_column(Float)
    theta_1min: Mapped[float | None] = mapped_column(Float)
    iv: Mapped[float | None] = mapped_column(Float)
    iv_rv: Mapped[float | None] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(16), index=True)
    reason: Mapped[str | None] = mapped_column(String(64))
    reason_value: Mapped[float | None] = mapped_column(Float)
    stake: Mapped[float] = mapped_column(Float, default=0.0)
    # The settings version in force when the candidate was decided (0 = no database layer).
    settings_version: Mapped[int | None] = mapped_column(Integer)


class OrderRow(Base):
    """The one order a signal produced, from submission to its last report.

    ``ts``: when it was decided; ``arrive_ts``: the instant of the first book it met (its
    decision plus the venue's latency, on the feed's clock); ``latency_ms``: that delay;
    ``expire_ts``: the market's end.
    ``status``: ``accepted`` (working, nothing filled), ``partial``, ``filled``,
    ``unfilled`` (killed, expired or cancelled with nothing filled), ``rejected`` (refused
    at submission) or ``reverted`` (every fill taken back at settlement); ``done`` once
    it can change no more. ``reason`` says why it was refused, killed or expired.
    ``filled_shares``, ``cost`` and ``fees`` count its fills that stand (not reverted).
    """

    __tablename__ = "orders"
    __table_args__ = (
        UniqueConstraint("run_id", "signal_key"),
        ForeignKeyConstraint(["run_id", "signal_key"], ["signals.run_id", "signals.key"]),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = run_fk()
    signal_key: Mapped[str] = mapped_column(String(255))
    ts: Mapped[datetime] = mapped_column(UtcDateTime)
    strategy: Mapped[str] = mapped_column(String(64), index=True)
    market_id: Mapped[str] = mapped_column(ForeignKey("markets.market_id"), index=True)
    token_id: Mapped[str] = mapped_column(String(160))
    side: Mapped[str] = mapped_column(String(8))
    order_type: Mapped[str] = mapped_column(String(8))
    price: Mapped[float | None] = mapped_column(Float)
    limit_price: Mapped[float] = mapped_column(Float)
    stake: Mapped[float] = mapped_column(Float)
    fee_rate: Mapped[float | None] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(String(64))
    filled_shares: Mapped[float] = mapped_column(Float, default=0.0)
    cost: Mapped[float] = mapped_column(Float, default=0.0)
    fees: Mapped[float] = mapped_column(Float, default=0.0)
    arrive_ts: Mapped[datetime | None] = mapped_column(UtcDateTime)
    expire_ts: Mapped[datetime | None] = mapped_column(UtcDateTime)
    latency_ms: Mapped[float | None] = mapped_column(Float)
    done: Mapped[bool] = mapped_column(Boolean, server_default=true(), index=True)
    updated_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class FillRow(Base):
    """One book level an order took (price, shares, taker fee).

    ``level_size``: the size the book showed at that price when it was taken.
    ``reverted``: the venue took the fill back at settlement (it counts nowhere).
    """

    __tablename__ = "fills"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = run_fk()
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    ts: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    price: Mapped[float] = mapped_column(Float)
    shares: Mapped[float] = mapped_column(Float)
    fee: Mapped[float] = mapped_column(Float)
    level_size: Mapped[float | None] = mapped_column(Float)
    reverted: Mapped[bool] = mapped_column(Boolean, server_default=false())


class OutcomeRow(Base):
    """How a market resolved: UP when the end price >= the start price."""

    __tablename__ = "outcomes"

    market_id: Mapped[str] = mapped_column(ForeignKey("markets.market_id"), primary_key=True)
    winner: Mapped[str] = mapped_column(String(8))
    start_price: Mapped[float] = mapped_column(Float)
    end_price: Mapped[float] = mapped_column(Float)
    resolved_at: Mapped[datetime] = mapped_column(UtcDateTime)


class PositionRow(Base):
    """A strategy's holding of one token of one market, settled at resolution.

    ``status``: ``open``, ``settled``, or ``void`` (every fill of it was reverted).
    """

    __tablename__ = "positions"
    __table_args__ = (UniqueConstraint("run_id", "strategy", "market_id", "side"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = run_fk()
    strategy: Mapped[str] = mapped_column(String(64), index=True)
    market_id: Mapped[str] = mapped_column(ForeignKey("markets.market_id"), index=True)
    side: Mapped[str] = mapped_column(String(8))
    token_id: Mapped[str] = mapped_column(String(160))
    shares: Mapped[float] = mapped_column(Float)
    cost: Mapped[float] = mapped_column(Float)
    fees: Mapped[float] = mapped_column(Float)
    opened_at: Mapped[datetime] = mapped_column(UtcDateTime)
    status: Mapped[str] = mapped_column(String(16), index=True)
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    payout: Mapped[float | None] = mapped_column(Float)
    pnl: Mapped[float | None] = mapped_column(Float)
    # The token's mid 60 s after entry, and whether it was worse than the entry (a flip).
    mark_60s: Mapped[float | None] = mapped_column(Float)
    flipped: Mapped[bool | None] = mapped_column(Boolean)


class CalibrationRow(Base):
    """One calibrator run for one strategy: what it saw and the thresholds before and after.

    Centroids are means over the resolved signals of the window (|gamma_1pct|,
    |delta_1pct|, IV/RV, |z|) for winners and losers; NULL when there were none.
    ``before``/``after`` hold the adaptive thresholds (e.g. ``gates.sigma.min_sigma``)
    as JSON; ``applied`` is false when the sample was under the minimum.
    """

    __tablename__ = "calibrations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = run_fk()
    ts: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    strategy: Mapped[str] = mapped_column(String(64), index=True)
    n_wins: Mapped[int] = mapped_column(Integer)
    n_losses: Mapped[int] = mapped_column(Integer)
    win_gamma: Mapped[float | None] = mapped_column(Float)
    loss_gamma: Mapped[float | None] = mapped_column(Float)
    win_delta: Mapped[float | None] = mapped_column(Float)
    loss_delta: Mapped[float | None] = mapped_column(Float)
    win_iv_rv: Mapped[float | None] = mapped_column(Float)
    loss_iv_rv: Mapped[float | None] = mapped_column(Float)
    win_sigma: Mapped[float | None] = mapped_column(Float)
    loss_sigma: Mapped[float | None] = mapped_column(Float)
    applied: Mapped[bool] = mapped_column(Boolean)
    before: Mapped[dict] = mapped_column(JSON)
    after: Mapped[dict] = mapped_column(JSON)


class RegimeChangeRow(Base):
    """The regime detector switching between CALM and CHOPPY."""

    __tablename__ = "regime_changes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = run_fk()
    ts: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    regime: Mapped[str] = mapped_column(String(16))
    flip_rate: Mapped[float] = mapped_column(Float)
    sample: Mapped[int] = mapped_column(Integer)


class BreakerEventRow(Base):
    """A circuit-breaker trip or reset; the latest row is the breaker's state (survives restarts).

    ``event``: ``trip`` or ``reset``. ``cause``: ``daily_loss``, ``consecutive_losses``,
    ``drawdown``, ``stale_feed`` (trips), or ``rule``/``human`` (resets).
    """

    __tablename__ = "breaker_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = run_fk()
    ts: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    event: Mapped[str] = mapped_column(String(8))
    cause: Mapped[str] = mapped_column(String(32))
    value: Mapped[float | None] = mapped_column(Float)
    detail: Mapped[str] = mapped_column(String(255), default="")
    author: Mapped[str] = mapped_column(String(64), default="engine")


class BreakerStateRow(Base):
    """The breaker's counters of one run, written in the transaction of the fills and
    settlements that change them, so a restart after kill -9 resumes them exactly.

    ``day``: the UTC day (days since the epoch) the counters belong to; ``day_pnl``:
    realized P&L settled that day; ``streak``: losing settlements in a row; ``peak``:
    the highest equity seen that day (None before the first check); ``tripped``/``cause``:
    the trip in force, if any.
    """

    __tablename__ = "breaker_state"

    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id"), primary_key=True)
    tripped: Mapped[bool] = mapped_column(Boolean, default=False)
    cause: Mapped[str] = mapped_column(String(32), default="")
    day: Mapped[int] = mapped_column(Integer)
    day_pnl: Mapped[float] = mapped_column(Float)
    streak: Mapped[int] = mapped_column(Integer)
    peak: Mapped[float | None] = mapped_column(Float)
    updated_ts: Mapped[datetime] = mapped_column(UtcDateTime)
