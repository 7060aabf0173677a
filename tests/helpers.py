"""Run the real console scripts and read the ledger back with plain SQL."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

from sqlalchemy import text

from engine.ledger.db import make_engine

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


# The market tests run on unless they name one: the generous simulator, where every strategy
# trades often (the tests exercise the engine's machinery, not a strategy's edge). The default
# `efficient` market declines most candidates; tests of it name it.
TEST_SIM = "sim=lagging_mm"


def with_test_sim(overrides: list[str] | tuple[str, ...]) -> list[str]:
    """``overrides`` with ``TEST_SIM`` first unless they choose a market or an experiment."""
    chosen = any(o.startswith(("sim=", "+experiment=", "experiment=")) for o in overrides)
    return list(overrides) if chosen else [TEST_SIM, *overrides]


def edgeloop_cmd(*overrides: str) -> list[str]:
    return [
        str(BIN / "edgeloop"),
        *with_test_sim(overrides),
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


def heading(out: str) -> str:
    """The first line of the ledger table a command printed (logs go to stdout too)."""
    found = re.search(r"^ledger of .*$", out, re.M)
    return found.group(0) if found else f"no ledger table in: {out[-500:]}"


def wait_for(predicate, timeout: float = 60.0, every: float = 0.1) -> bool:
    """Whether ``predicate()`` became true within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(every)
    return False


def _plain(value: object) -> object:
    """Decimals (PostgreSQL numeric) as floats and booleans as 0/1, so both stores compare equal."""
    if isinstance(value, bool):
        return int(value)
    return float(value) if isinstance(value, Decimal) else value


def query(url: str, sql: str) -> list[tuple]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return [tuple(_plain(v) for v in r) for r in conn.execute(text(sql))]
    finally:
        engine.dispose()


def _where(run: int | None, alias: str = "") -> str:
    return "" if run is None else f" WHERE {alias}run_id = {int(run)}"


def ledger_snapshot(url: str, run: int | None = None) -> dict[str, list[tuple]]:
    """Everything a run decided, in a comparable form (no surrogate ids, no wall times).

    ``run``: one run's rows only (default: every run's)."""
    return {
        "signals": query(
            url,
            "SELECT key, status, reason, round(CAST(stake AS numeric), 6) FROM signals"
            f"{_where(run)} ORDER BY key",
        ),
        "orders": query(
            url,
            "SELECT signal_key, status, reason, filled_shares, round(CAST(cost AS numeric), 6), "
            "round(CAST(fees AS numeric), 6), round(CAST(latency_ms AS numeric), 3), done "
            f"FROM orders{_where(run)} ORDER BY signal_key",
        ),
        "fills": query(
            url,
            "SELECT o.signal_key, f.price, f.shares, f.fee, f.reverted FROM fills f "
            f"JOIN orders o ON o.id = f.order_id{_where(run, 'f.')} "
            "ORDER BY o.signal_key, f.price",
        ),
        "outcomes": query(url, "SELECT market_id, winner FROM outcomes ORDER BY market_id"),
        "positions": query(
            url,
            "SELECT strategy, market_id, side, status, round(CAST(pnl AS numeric), 6) FROM positions"
            f"{_where(run)} ORDER BY market_id, side, strategy",
        ),
        "breaker_events": query(
            url,
            "SELECT ts, event, cause, round(CAST(value AS numeric), 6), detail, author "
            f"FROM breaker_events{_where(run)} ORDER BY id",
        ),
        "breaker_state": query(
            url,
            "SELECT tripped, cause, day, round(CAST(day_pnl AS numeric), 6), streak, "
            f"round(CAST(peak AS numeric), 6) FROM breaker_state{_where(run)} ORDER BY run_id",
        ),
    }


def pnl_from_fills_and_outcomes(url: str, run: int | None = None) -> tuple[int, int, float, float]:
    """Trades, wins, P&L after fees and fees, straight from fills and outcomes (reverted
    fills count nowhere; ``run``: one run's only).

    The legs of a multi-leg group (same signals.group_key) are one trade, counted
    when all its legs have resolved, and won when its payout beats its cost and fees.
    """
    rows = query(
        url,
        "SELECT COALESCE(s.group_key, s.key), s.group_key IS NOT NULL, o.side, oc.winner, "
        "SUM(f.shares), SUM(f.shares * f.price), SUM(f.fee) "
        "FROM orders o JOIN fills f ON f.order_id = o.id AND NOT f.reverted "
        "JOIN signals s ON s.key = o.signal_key AND s.run_id = o.run_id "
        f"LEFT JOIN outcomes oc ON oc.market_id = o.market_id{_where(run, 'o.')} "
        "GROUP BY o.id, s.key, s.group_key, o.side, oc.winner",
    )
    trades: dict[str, list[tuple]] = {}
    for r in rows:
        trades.setdefault(r[0], []).append(r)
    n = wins = 0
    pnl = fees = 0.0
    for legs in trades.values():
        if any(leg[3] is None for leg in legs):
            continue
        payout = sum(float(leg[4]) for leg in legs if leg[2] == leg[3])
        cost = sum(float(leg[5]) for leg in legs)
        fee = sum(float(leg[6]) for leg in legs)
        n += 1
        wins += (payout > cost + fee) if legs[0][1] else (payout > 0)
        pnl += payout - cost - fee
        fees += fee
    return n, wins, pnl, fees
