"""Run the real console scripts and read the ledger back with plain SQL."""

from __future__ import annotations

import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

from sqlalchemy import text

from engine.ledger.db import make_engine

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def edgeloop_cmd(*overrides: str) -> list[str]:
    return [
        str(BIN / "edgeloop"),
        *overrides,
        "hydra.run.dir=${oc.env:EDGELOOP_RUN_DIR,var/runs/test}",
    ]


def run_edgeloop(
    *overrides: str, timeout: float = 300, env: dict | None = None
) -> subprocess.CompletedProcess:
    return subprocess.run(
        edgeloop_cmd(*overrides),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


def _plain(value: object) -> object:
    """Decimals (PostgreSQL numeric) as floats, so both stores compare equal."""
    return float(value) if isinstance(value, Decimal) else value


def query(url: str, sql: str) -> list[tuple]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return [tuple(_plain(v) for v in r) for r in conn.execute(text(sql))]
    finally:
        engine.dispose()


def ledger_snapshot(url: str) -> dict[str, list[tuple]]:
    """Everything a run decided, in a comparable form (no surrogate ids, no wall times)."""
    return {
        "signals": query(
            url,
            "SELECT key, status, reason, round(CAST(stake AS numeric), 6) FROM signals ORDER BY key",
        ),
        "orders": query(
            url,
            "SELECT signal_key, status, reason, filled_shares, round(CAST(cost AS numeric), 6), "
            "round(CAST(fees AS numeric), 6) FROM orders ORDER BY signal_key",
        ),
        "fills": query(
            url,
            "SELECT o.signal_key, f.price, f.shares, f.fee FROM fills f JOIN orders o ON o.id = f.order_id "
            "ORDER BY o.signal_key, f.price",
        ),
        "outcomes": query(url, "SELECT market_id, winner FROM outcomes ORDER BY market_id"),
        "positions": query(
            url,
            "SELECT strategy, market_id, side, status, round(CAST(pnl AS numeric), 6) FROM positions ORDER BY market_id, side",
        ),
    }


def pnl_from_fills_and_outcomes(url: str) -> tuple[int, int, float, float]:
    """Trades, wins, P&L after fees and fees, straight from fills and outcomes."""
    rows = query(
        url,
        "SELECT o.id, o.side, oc.winner, SUM(f.shares), SUM(f.shares * f.price), SUM(f.fee) "
        "FROM orders o JOIN fills f ON f.order_id = o.id JOIN outcomes oc ON oc.market_id = o.market_id "
        "GROUP BY o.id, o.side, oc.winner",
    )
    trades = len(rows)
    wins = sum(1 for r in rows if r[1] == r[2])
    pnl = sum((float(r[3]) if r[1] == r[2] else 0.0) - float(r[4]) - float(r[5]) for r in rows)
    fees = sum(float(r[5]) for r in rows)
    return trades, wins, pnl, fees
