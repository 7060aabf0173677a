"""Reads for the Greeks page: entries with their Greeks at entry, and the calibrator's output.

Re-exported by :mod:`ui.queries`, which is what pages call.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st
from sqlalchemy import select

from engine.ledger.models import CalibrationRow, OrderRow, OutcomeRow, PositionRow, SignalRow
from ui.frames import TTL, conform, session, tables
from ui.stats import wilson_interval

NEG_GAMMA, POS_GAMMA = "−Γ concave ITM", "+Γ convex"


def _entries(url: str) -> pd.DataFrame:
    """Filled single-leg entries with their Greeks at entry and, once resolved, the result."""
    cols = [SignalRow.ts, SignalRow.strategy, SignalRow.side, SignalRow.fair, SignalRow.z]
    cols += [SignalRow.iv_rv, OutcomeRow.winner]
    stmt = (
        select(*cols)
        .join(OrderRow, OrderRow.signal_key == SignalRow.key)
        .outerjoin(OutcomeRow, OutcomeRow.market_id == SignalRow.market_id)
        .where(OrderRow.filled_shares > 0, SignalRow.group_key.is_(None))
        .order_by(SignalRow.ts)
    )
    with session(url) as s:
        frame = pd.DataFrame([tuple(r) for r in s.execute(stmt)], columns=[c.key for c in cols])
    frame["ts"] = pd.to_datetime(frame["ts"], utc=True)
    frame["resolved"] = frame["winner"].notna()
    frame["won"] = frame["side"] == frame["winner"]
    return frame


@st.cache_data(ttl=TTL, show_spinner=False)
def sigma_depth(url: str, period: str = "1h") -> pd.DataFrame:
    """Per ``period`` of engine time (a pandas frequency: ``15min``, ``1h``, ``1D``) and
    strategy: how many entries, their mean |z| and the win rate of those that resolved."""
    e = _entries(url).dropna(subset=["z"])
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
def iv_rv_outcomes(url: str) -> pd.DataFrame:
    """IV/RV at entry of every resolved entry, labelled win or loss."""
    e = _entries(url)
    e = e[e["resolved"] & e["iv_rv"].notna()].copy()
    e["outcome"] = e["won"].map({True: "win", False: "loss"})
    return conform("iv_rv_outcomes", e)


def _calibrations(url: str) -> list[CalibrationRow]:
    if "calibrations" not in tables(url):
        return []
    with session(url) as s:
        return list(s.scalars(select(CalibrationRow).order_by(CalibrationRow.id)))


@st.cache_data(ttl=TTL, show_spinner=False)
def vol_band(url: str) -> pd.DataFrame:
    """The calibrated IV/RV band per strategy: the latest calibration whose ``after`` holds it."""
    latest: dict[str, dict[str, Any]] = {}
    for c in _calibrations(url):
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
def centroids(url: str) -> pd.DataFrame:
    """Win and loss centroids (|Γ|, |Δ|, IV/RV, |z|) of every calibration run, long format."""
    rows = []
    cals = _calibrations(url)
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
def open_gamma(url: str) -> pd.DataFrame:
    """Open positions with the gamma of their latest entry: −Γ (ITM, concave) or +Γ (convex)."""
    pos = select(PositionRow).where(PositionRow.status == "open").order_by(PositionRow.id)
    with session(url) as s:
        positions = list(s.scalars(pos))
        greeks: dict[tuple[str, str, str], tuple[Any, ...]] = {}
        if positions:
            stmt = (
                select(SignalRow.strategy, SignalRow.market_id, SignalRow.side)
                .add_columns(SignalRow.symbol, SignalRow.gamma_1pct, SignalRow.delta_1pct)
                .where(SignalRow.status == "accepted")
                .where(SignalRow.market_id.in_({p.market_id for p in positions}))
                .order_by(SignalRow.ts)
            )
            greeks = {tuple(r[:3]): tuple(r[3:]) for r in s.execute(stmt)}
    rows = []
    for p in positions:
        symbol, gamma, delta = greeks.get((p.strategy, p.market_id, p.side), ("", None, None))
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


@st.cache_data(ttl=TTL, show_spinner=False)
def fair_calibration(url: str) -> pd.DataFrame:
    """Fair value N(d2) at entry in deciles against how often those entries won."""
    e = _entries(url)
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
