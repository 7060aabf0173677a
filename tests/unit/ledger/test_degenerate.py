"""Degenerate IV/RV solves (issue 15): one rule, and the Greeks page's read flags them.

IV/RV of 0.01 or 10,000 (a near-expiry solve where a tick of price is a world of vol) must
not reach the Greeks page mixed in with the others: :func:`degenerate_iv_rv` says which, and
``iv_rv_outcomes`` carries the flag, on a real SQLite ledger.
"""

from __future__ import annotations

import logging
import math
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
import streamlit as st
from sqlalchemy.orm import Session

from engine.core.pricing.vol import IV_RV_SANE, degenerate_iv_rv
from engine.ledger import runs
from engine.ledger.db import make_engine
from engine.ledger.models import MarketRow, OrderRow, OutcomeRow, SignalRow

logging.getLogger("streamlit.runtime.caching.cache_data_api").setLevel(logging.ERROR)

T0 = datetime(2026, 1, 5, tzinfo=UTC)
# (iv_rv, side, winner): two sane entries, three degenerate ones, one without a solve
ENTRIES = [
    (1.2, "UP", "UP"),
    (0.9, "DOWN", "UP"),
    (0.01, "UP", "UP"),
    (10_000.0, "DOWN", "DOWN"),
    (0.0, "UP", "DOWN"),
    (None, "UP", "UP"),
]


def test_the_rule():
    lo, hi = IV_RV_SANE
    assert (lo, hi) == (0.05, 20.0)
    values = [lo, 1.0, hi, 0.0, 0.01, 0.049, 20.01, 10_000.0, math.inf, -1.0, math.nan]
    flags = degenerate_iv_rv(values)
    assert flags.dtype == bool
    assert flags.tolist() == [False, False, False, True, True, True, True, True, True, True, False]
    assert degenerate_iv_rv(np.full((2, 3), 1.0)).shape == (2, 3)
    assert bool(degenerate_iv_rv(1e4)) and not bool(degenerate_iv_rv(2.0))


def seed(url: str, entries=ENTRIES) -> int:
    """One run of filled, resolved single-leg entries of ``updown``, one market each."""
    engine = make_engine(url)
    with Session(engine) as s, s.begin():
        run = runs.start_run(
            session=s, name=None, mode="paper", feed_identity={"kind": "test"},
            fingerprint="0" * 16, config={}, settings_version=0,
        )  # fmt: skip
        for i, (iv_rv, side, winner) in enumerate(entries):
            market, ts = f"m{i}", T0 + timedelta(minutes=5 * i)
            s.add(
                MarketRow(
                    market_id=market,
                    symbol="BTCUSDT",
                    window_s=300,
                    start_ts=ts,
                    end_ts=ts + timedelta(seconds=300),
                    strike=100_000.0,
                    up_token=f"{market}-up",
                    down_token=f"{market}-down",
                    fee_rate=0.07,
                    source="sim",
                )
            )
            s.flush()
            key = f"updown|{market}|{side}|t+00280s"
            token = f"{market}-{side.lower()}"
            s.add(
                SignalRow(
                    run_id=run.id,
                    key=key,
                    ts=ts + timedelta(seconds=280),
                    strategy="updown",
                    market_id=market,
                    symbol="BTCUSDT",
                    side=side,
                    token_id=token,
                    trigger="t+00280s",
                    price=0.5,
                    t_remaining_s=20.0,
                    iv_rv=iv_rv,
                    status="accepted",
                    stake=5.0,
                )
            )
            s.flush()
            s.add(
                OrderRow(
                    run_id=run.id,
                    signal_key=key,
                    ts=ts + timedelta(seconds=280),
                    strategy="updown",
                    market_id=market,
                    token_id=token,
                    side=side,
                    order_type="FAK",
                    limit_price=0.51,
                    stake=5.0,
                    status="filled",
                    filled_shares=10.0,
                    cost=5.0,
                    fees=0.1,
                )
            )
            s.add(
                OutcomeRow(
                    market_id=market,
                    winner=winner,
                    start_price=100_000.0,
                    end_price=100_100.0 if winner == "UP" else 99_900.0,
                    resolved_at=ts + timedelta(seconds=300),
                )
            )
        run_id = run.id
    engine.dispose()
    return run_id


@pytest.fixture
def ledger(sqlite_url):
    seed(sqlite_url)
    st.cache_data.clear()
    yield sqlite_url
    st.cache_data.clear()


def test_iv_rv_outcomes_flags_the_degenerate_solves(ledger):
    from ui import queries as q

    frame = q.iv_rv_outcomes(ledger, None)
    # the entry without a solve is not a row; the others are, each flagged by the rule
    assert frame["iv_rv"].tolist() == [1.2, 0.9, 0.01, 10_000.0, 0.0]
    assert frame["degenerate"].tolist() == [False, False, True, True, True]
    assert frame["outcome"].tolist() == ["win", "loss", "win", "win", "loss"]
    assert frame["degenerate"].dtype == bool


def test_an_empty_ledger_has_the_flag_column_too(sqlite_url):
    from ui import queries as q

    st.cache_data.clear()
    frame = q.iv_rv_outcomes(sqlite_url, None)
    assert frame.empty and "degenerate" in frame.columns
