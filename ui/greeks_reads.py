"""Reads for the Greeks page: entries with their Greeks at entry, and the calibrator's output.

Re-exported by :mod:`ui.queries`, which is what pages call. Each reads the runs ``runs``
(run ids, or None for every run) only.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st
from sqlalchemy import select

from engine.core.pricing.vol import degenerate_iv_rv
from engine.ledger.models import CalibrationRow, OrderRow, OutcomeRow, PositionRow, SignalRow
from engine.ledger.queries import in_runs, signal_of_order
from ui.frames import TTL, Runs, conform, session, tables
from ui.stats import wilson_interval

NEG_GAMMA, POS_GAMMA = "−Γ concave ITM", "+Γ convex"


def _entries(url: str, runs: Runs) -> pd.DataFrame:
    """Filled single-leg entries with their Greeks at entry and, once resolved, the result.

    ``filled_shares`` counts the fills that stand: an order whose fills were all reverted is
    no entry."""
    cols = [SignalRow.ts, SignalRow.strategy, SignalRow.side, SignalRow.fair, SignalRow.z]
    cols += [SignalRow.iv_rv, OutcomeRow.winner]
    stmt = (
        select(*cols)
        .join(OrderRow, signal_of_order())
        .outerjoin(OutcomeRow, OutcomeRow.market_id == SignalRow.market_id)
        .where(OrderRow.filled_shares > 0, SignalRow.group_key.is_(None))
        .where(in_runs(SignalRow.run_id, runs))
        .order_by(SignalRow.ts)
    )
    with session(url) as s:
        frame = pd.DataFrame([tuple(r) for r in s.execute(stmt)], columns=[c.key for c in cols])
    frame["ts"] = pd.to_datetime(frame["ts"], utc=True)
    frame["resolved"] = frame["winner"].notna()
    frame["won"] = frame["side"] == frame["winner"]
    return frame


@st.cache_data(ttl=TTL, show_spinner=False)
def sigma_depth(url: str, runs: Runs, period: str = "1h") -> pd.DataFrame:
    """Per ``period`` of engine time (a pandas frequency: ``15min``, ``1h``, ``1D``) and
    strategy: how many entries, their mean |z| and the win rate of those that resolved."""
    e = _entries(url, runs).dropna(subset=["z"])
    if e.empty:
        return conform("sigma_depth", [])
    e["period"] = e["ts"].dt.floor(period)
    e["abs_z"] = e["z"].abs()
    e["win"] = e["won"] & e["resolved"]
    g = e.groupby(["period", "strategy"], as_index=False).agg(
        entries=("abs_z", "size"),
        mean_abs_z=("abs_z", "mean"),
        resolved=("resolved", "sum"),
        wins=("win", "sum"),
    )
    g["win_rate"] = g["wins"] / g["resolved"].where(g["resolved"] > 0)
    return conform("sigma_depth", g)


@st.cache_data(ttl=TTL, show_spinner=False)
def iv_rv_outcomes(url: str, runs: Runs) -> pd.DataFrame:
    """IV/RV at entry of every resolved entry, labelled win or loss; ``degenerate`` flags a
    ratio outside :data:`~engine.core.pricing.vol.IV_RV_SANE` (a degenerate implied-vol solve,
    :func:`~engine.core.pricing.vol.degenerate_iv_rv`), which the page shows apart."""
    e = _entries(url, runs)
    e = e[e["resolved"] & e["iv_rv"].notna()].copy()
    e["outcome"] = e["won"].map({True: "win", False: "loss"})
    e["degenerate"] = degenerate_iv_rv(e["iv_rv"].to_numpy(dtype=float))
    return conform("iv_rv_outcomes", e)


def _calibrations(url: str, runs: Runs) -> list[CalibrationRow]:
    if "calibrations" not in tables(url):
        return []
    stmt = select(CalibrationRow).where(in_runs(CalibrationRow.run_id, runs))
    with session(url) as s:
        return list(s.scalars(stmt.order_by(CalibrationRow.id)))


@st.cache_data(ttl=TTL, show_spinner=False)
def vol_band(url: str, runs: Runs) -> pd.DataFrame:
    """The calibrated IV/RV band per strategy: the latest calibration whose ``after`` holds it."""
    latest: dict[str, dict[str, Any]] = {}
    for c in _calibrations(url, runs):
        after = c.after or {}
        if "gates.vol_band.low" in after and "gates.vol_band.high" in after:
            latest[c.strategy] = {
                "strategy": c.strategy,
                "ts": c.ts,
                "low": after["gates.vol_band.low"],
                "high": after["gates.vol_band.high"],
            }
    return conform("vol_band", list(latest.values()))


@st.cache_data(ttl=TTL, show_spinner=False)
def centroids(url: str, runs: Runs) -> pd.DataFrame:
    """Win and loss centroids (|Γ|, |Δ|, IV/RV, |z|) of every calibration, long format."""
    rows = []
    cals = _calibrations(url, runs)
    last = {c.strategy: c.id for c in cals}
    for c in cals:
        for outcome, n in (("win", c.n_wins), ("loss", c.n_losses)):
            rows.append(
                {
                    "ts": c.ts,
                    "strategy": c.strategy,
                    "outcome": outcome,
                    "n": n,
                    "abs_gamma": getattr(c, f"{outcome}_gamma"),
                    "abs_delta": getattr(c, f"{outcome}_delta"),
                    "iv_rv": getattr(c, f"{outcome}_iv_rv"),
                    "abs_z": getattr(c, f"{outcome}_sigma"),
                    "applied": c.applied,
                    "latest": last[c.strategy] == c.id,
                }
            )
    return conform("centroids", rows)


@st.cache_data(ttl=TTL, show_spinner=False)
def open_gamma(url: str, runs: Runs) -> pd.DataFrame:
    """Open positions with the gamma of their latest entry: −Γ (ITM, concave) or +Γ (convex)."""
    pos = select(PositionRow).where(PositionRow.status == "open", in_runs(PositionRow.run_id, runs))
    with session(url) as s:
        positions = list(s.scalars(pos.order_by(PositionRow.id)))
        greeks = _entry_greeks(s, positions)
    rows = []
    for p in positions:
        key = (p.run_id, p.strategy, p.market_id, p.side)
        symbol, gamma, delta = greeks.get(key, ("", None, None))
        regime = "" if gamma is None else NEG_GAMMA if gamma < 0 else POS_GAMMA
        rows.append(
            {
                "strategy": p.strategy,
                "market_id": p.market_id,
                "symbol": symbol,
                "side": p.side,
                "shares": p.shares,
                "cost": p.cost,
                "opened_at": p.opened_at,
                "gamma_1pct": gamma,
                "delta_1pct": delta,
                "gamma_regime": regime,
            }
        )
    return conform("open_gamma", rows)


def _entry_greeks(s: Any, positions: list[PositionRow]) -> dict[tuple, tuple[Any, ...]]:
    """(run, strategy, market, side) -> (symbol, Γ, Δ) of the latest accepted entry."""
    if not positions:
        return {}
    stmt = (
        select(SignalRow.run_id, SignalRow.strategy, SignalRow.market_id, SignalRow.side)
        .add_columns(SignalRow.symbol, SignalRow.gamma_1pct, SignalRow.delta_1pct)
        .where(SignalRow.status == "accepted")
        .where(SignalRow.run_id.in_({p.run_id for p in positions}))
        .where(SignalRow.market_id.in_({p.market_id for p in positions}))
        .order_by(SignalRow.ts)
    )
    return {tuple(r[:4]): tuple(r[4:]) for r in s.execute(stmt)}


@st.cache_data(ttl=TTL, show_spinner=False)
def fair_calibration(url: str, runs: Runs) -> pd.DataFrame:
    """Fair value N(d2) at entry in deciles against how often those entries won."""
    e = _entries(url, runs)
    e = e[e["resolved"] & e["fair"].notna()].copy()
    if e.empty:
        return conform("fair_calibration", [])
    e["bucket"] = (e["fair"].clip(0, 1) * 10).astype(int).clip(upper=9)
    rows = []
    for bucket, g in e.groupby("bucket"):
        wins, n = int(g["won"].sum()), len(g)
        lo, hi = wilson_interval(wins, n)
        rows.append(
            {
                "bucket": bucket,
                "bucket_low": bucket / 10,
                "bucket_high": (bucket + 1) / 10,
                "n": n,
                "mean_fair": g["fair"].mean(),
                "win_rate": wins / n,
                "wr_low": lo,
                "wr_high": hi,
            }
        )
    return conform("fair_calibration", rows)
