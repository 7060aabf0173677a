"""The one schema of every frame the dashboard reads, and the plumbing under the queries.

Each query in :mod:`ui.queries` returns ``conform(name, rows)``: a DataFrame
with exactly the columns of ``SCHEMAS[name]``, in that order, each cast to
its declared kind. A page reads only those columns (a test parses the pages
and fails on any column its queries do not declare), so a renamed field
fails a test instead of rendering an empty column (the seed's ``PnL`` vs
``pnl``).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import pandas as pd
import streamlit as st
from sqlalchemy import Engine, inspect
from sqlalchemy.orm import Session

from engine.ledger.db import make_engine, resolve_url

TTL = 5  # seconds a query result is reused: the Live page refreshes every few seconds
# The runs a read covers: run ids (a tuple, so that cached reads can hash it), or None for all.
Runs = tuple[int, ...] | None
_DB_OVERRIDE: dict[str, str] = {}

_LEDGER = {
    "strategy": "str",
    "trades": "int",
    "wins": "int",
    "win_rate": "float",
    "breakeven_win_rate": "float",
    "win_rate_shares": "float",
    "breakeven_win_rate_shares": "float",
    "pnl": "float",
    "fees": "float",
    "p_value": "float",
    "arb_trades": "int",
    "arb_pnl": "float",
    "verdict": "str",
    "wr_low": "float",
    "wr_high": "float",
}

SCHEMAS: dict[str, dict[str, str]] = {
    # Ledger
    "ledger_summary": _LEDGER,
    "trades": {
        "run_id": "int",
        "trade_id": "str",
        "strategy": "str",
        "market_id": "str",
        "symbol": "str",
        "side": "str",
        "legs": "int",
        "opened_at": "datetime",
        "settled_at": "datetime",
        "shares": "float",
        "cost": "float",
        "fees": "float",
        "payout": "float",
        "pnl": "float",
        "won": "bool",
        "entry_price": "float",
        "fair": "float",
        "z": "float",
    },
    "equity_curve": {
        "closed_at": "datetime",
        "strategy": "str",
        "pnl": "float",
        "strategy_equity": "float",
        "equity": "float",
    },
    "ledger_notes": {
        "open_orders": "int",
        "open_cost": "float",
        "groups_complete": "int",
        "groups_partial": "int",
    },
    "skip_mix": {"strategy": "str", "reason": "str", "count": "int", "share": "float"},
    "strategies": {"strategy": "str"},
    "runs_table": {
        "id": "int",
        "name": "str",
        "mode": "str",
        "feed": "str",
        "seed": "Int",
        "fingerprint": "str",
        "settings_version": "int",
        "status": "str",
        "started_at": "datetime",
        "ended_at": "datetime",
        "first_ts": "datetime",
        "last_ts": "datetime",
    },
    # Live
    "recent_signals": {
        "run_id": "int",
        "ts": "datetime",
        "strategy": "str",
        "symbol": "str",
        "side": "str",
        "price": "float",
        "fair": "float",
        "edge": "float",
        "z": "float",
        "stake": "float",
        "status": "str",
        "reason": "str",
        "settings_version": "Int",
        "market_id": "str",
    },
    "live_status": {
        "regime": "str",
        "flip_rate": "float",
        "regime_since": "datetime",
        "breaker": "str",
        "breaker_cause": "str",
        "breaker_since": "datetime",
        "markets_tracked": "int",
        "open_positions": "int",
        "signals": "int",
        "accepted": "int",
        "last_write": "datetime",
        "heartbeat_age_s": "float",
        "signals_version": "Int",
        "store_version": "int",
    },
    "regime_history": {
        "ts": "datetime",
        "regime": "str",
        "flip_rate": "float",
        "sample": "int",
    },
    "breaker_events": {
        "ts": "datetime",
        "event": "str",
        "cause": "str",
        "value": "float",
        "detail": "str",
        "author": "str",
    },
    # Greeks
    "sigma_depth": {
        "period": "datetime",
        "strategy": "str",
        "entries": "int",
        "mean_abs_z": "float",
        "resolved": "int",
        "wins": "int",
        "win_rate": "float",
    },
    "iv_rv_outcomes": {
        "ts": "datetime",
        "strategy": "str",
        "iv_rv": "float",
        "outcome": "str",
        "degenerate": "bool",
    },
    "vol_band": {"strategy": "str", "ts": "datetime", "low": "float", "high": "float"},
    "centroids": {
        "ts": "datetime",
        "strategy": "str",
        "outcome": "str",
        "n": "int",
        "abs_gamma": "float",
        "abs_delta": "float",
        "iv_rv": "float",
        "abs_z": "float",
        "applied": "bool",
        "latest": "bool",
    },
    "open_gamma": {
        "strategy": "str",
        "market_id": "str",
        "symbol": "str",
        "side": "str",
        "shares": "float",
        "cost": "float",
        "opened_at": "datetime",
        "gamma_1pct": "float",
        "delta_1pct": "float",
        "gamma_regime": "str",
    },
    "fair_calibration": {
        "bucket": "int",
        "bucket_low": "float",
        "bucket_high": "float",
        "n": "int",
        "mean_fair": "float",
        "win_rate": "float",
        "wr_low": "float",
        "wr_high": "float",
    },
    # Settings
    "settings_table": {
        "key": "str",
        "section": "str",
        "value": "str",
        "layer": "str",
        "set_by": "str",
        "unit": "str",
        "range": "str",
        "writers": "str",
        "protected": "bool",
        "description": "str",
    },
    "settings_history": {
        "version": "int",
        "created_at": "datetime",
        "author": "str",
        "author_kind": "str",
        "reason": "str",
        "rollback_of": "Int",
        "changed": "str",
        "engines": "str",
    },
    "settings_diff": {"key": "str", "old": "str", "new": "str"},
}

_CASTS: dict[str, Callable[[pd.Series], pd.Series]] = {
    "str": lambda s: s.astype("string"),
    "int": lambda s: pd.to_numeric(s).astype("int64"),
    "Int": lambda s: pd.to_numeric(s).astype("Int64"),
    "float": lambda s: pd.to_numeric(s, errors="coerce").astype("float64"),
    "bool": lambda s: s.astype(bool),
    "datetime": lambda s: pd.to_datetime(s, utc=True).astype("datetime64[ns, UTC]"),
}


def conform(name: str, data: pd.DataFrame | Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """``data`` as frame ``name``: exactly its declared columns, in order, each cast."""
    schema = SCHEMAS[name]
    frame = data if isinstance(data, pd.DataFrame) else pd.DataFrame(list(data))
    if frame.empty and not len(frame.columns):
        frame = pd.DataFrame({col: pd.Series(dtype=object) for col in schema})
    missing = [c for c in schema if c not in frame.columns]
    if missing:
        raise KeyError(f"frame {name} lacks columns {missing}")
    out = pd.DataFrame({col: _CASTS[kind](frame[col]) for col, kind in schema.items()})
    return out.reset_index(drop=True)


# -- the database -------------------------------------------------------------------


def use_database(url: str | None) -> None:
    """Point the dashboard at ``url`` (``--db``); None keeps ``$EDGELOOP_DB_URL`` or the default."""
    if url:
        _DB_OVERRIDE["url"] = url
    else:
        _DB_OVERRIDE.pop("url", None)


def db_url() -> str:
    """``--db``, else ``$EDGELOOP_DB_URL``, else ``sqlite:///var/edgeloop.db`` (the CLI's rule)."""
    return resolve_url(_DB_OVERRIDE.get("url") or os.environ.get("EDGELOOP_DB_URL"))


@st.cache_resource(show_spinner=False)
def engine(url: str) -> Engine:
    """One SQLAlchemy engine per database for the whole server."""
    return make_engine(url)


def session(url: str) -> Session:
    return Session(engine(url))


@st.cache_data(ttl=TTL, show_spinner=False)
def tables(url: str) -> frozenset[str]:
    """The tables the database holds (an older ledger may lack the closed-loop ones)."""
    return frozenset(inspect(engine(url)).get_table_names())
