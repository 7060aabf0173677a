"""Ledgers as older revisions left them: a row (or two) in every table a revision has, linked
by their foreign keys, and the check that each value is still there at head.

Rows are written and read through reflected tables, so a revision's columns are exactly the
database's: a column a revision lacks is not written, and is expected at head with its
migration's default.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from alembic.script import ScriptDirectory
from sqlalchemy import MetaData, select, text

from engine.ledger.db import alembic_config, make_engine

# Oldest first: a new revision joins the tests by itself.
_SCRIPT = ScriptDirectory.from_config(alembic_config())
REVISIONS = tuple(r.revision for r in reversed(list(_SCRIPT.walk_revisions())))
HEAD = REVISIONS[-1]
T0 = datetime(2026, 1, 5, tzinfo=UTC)
MIN = timedelta(minutes=1)

# Parents before children. Columns of every revision; each is written where it exists.
ROWS: dict[str, list[dict[str, object]]] = {
    "runs": [
        {
            "id": 1,
            "name": "old",
            "mode": "paper",
            "feed": "sim",
            "seed": 7,
            "fingerprint": "f00d" * 3,
            "feed_identity": {"kind": "sim", "seed": 7},
            "config": {"seed": 7},
            "settings_version": 1,
            "started_at": T0,
            "ended_at": T0 + 60 * MIN,
            "status": "finished",
            "first_ts": T0,
            "last_ts": T0 + 59 * MIN,
        }
    ],
    "markets": [
        {
            "market_id": "m1",
            "symbol": "BTCUSDT",
            "window_s": 300,
            "start_ts": T0,
            "end_ts": T0 + 5 * MIN,
            "strike": 97000.5,
            "up_token": "up1",
            "down_token": "dn1",
            "fee_rate": 0.07,
            "source": "sim",
            "kind": "updown",
            "augmented": False,
        },
        {
            "market_id": "m2",
            "symbol": "ETHUSDT",
            "window_s": 900,
            "start_ts": T0,
            "end_ts": T0 + 15 * MIN,
            "strike": 3100.25,
            "up_token": "up2",
            "down_token": "dn2",
            "fee_rate": 0.05,
            "source": "sim",
            "kind": "range",
            "event_id": "e1",
            "low": 3000.0,
            "high": 3200.0,
            "label": "3000-3200",
            "augmented": True,
        },
    ],
    "outcomes": [
        {
            "market_id": "m1",
            "winner": "UP",
            "start_price": 97000.5,
            "end_price": 97100.75,
            "resolved_at": T0 + 5 * MIN,
        }
    ],
    "signals": [
        {
            "id": 1,
            "run_id": 1,
            "key": "k1",
            "ts": T0 + MIN,
            "strategy": "updown",
            "market_id": "m1",
            "symbol": "BTCUSDT",
            "side": "UP",
            "token_id": "up1",
            "trigger": "lag",
            "price": 0.4,
            "fair": 0.5,
            "edge": 0.1,
            "z": 1.5,
            "sigma": 0.45,
            "t_remaining_s": 240.0,
            "delta_1pct": 0.12,
            "gamma_1pct": 0.03,
            "vega_1pt": 0.01,
            "theta_1min": -0.002,
            "iv": 0.5,
            "iv_rv": 1.1,
            "status": "accepted",
            "stake": 10.0,
            "group_key": "g1",
            "settings_version": 1,
        },
        {
            "id": 2,
            "run_id": 1,
            "key": "k2",
            "ts": T0 + 2 * MIN,
            "strategy": "negrisk",
            "market_id": "m2",
            "symbol": "ETHUSDT",
            "side": "DOWN",
            "token_id": "dn2",
            "trigger": "sum",
            "price": 0.3,
            "fair": 0.25,
            "edge": -0.05,
            "z": 0.2,
            "sigma": 0.6,
            "t_remaining_s": 780.0,
            "status": "rejected",
            "reason": "gate.sigma",
            "reason_value": 0.2,
            "stake": 0.0,
        },
    ],
    "orders": [
        {
            "id": 1,
            "run_id": 1,
            "signal_key": "k1",
            "ts": T0 + MIN,
            "strategy": "updown",
            "market_id": "m1",
            "token_id": "up1",
            "side": "UP",
            "order_type": "FAK",
            "limit_price": 0.41,
            "stake": 10.0,
            "status": "filled",
            "filled_shares": 25.0,
            "cost": 10.0,
            "fees": 0.42,
            "price": 0.4,
            "fee_rate": 0.07,
            "arrive_ts": T0 + MIN,
            "latency_ms": 250.0,
            "done": True,
            "updated_at": T0 + MIN,
        }
    ],
    "fills": [
        {
            "id": 1,
            "run_id": 1,
            "order_id": 1,
            "ts": T0 + MIN,
            "price": 0.4,
            "shares": 25.0,
            "fee": 0.42,
            "level_size": 100.0,
            "reverted": False,
        }
    ],
    "positions": [
        {
            "id": 1,
            "run_id": 1,
            "strategy": "updown",
            "market_id": "m1",
            "side": "UP",
            "token_id": "up1",
            "shares": 25.0,
            "cost": 10.0,
            "fees": 0.42,
            "opened_at": T0 + MIN,
            "status": "closed",
            "closed_at": T0 + 5 * MIN,
            "payout": 25.0,
            "pnl": 14.58,
            "mark_60s": 0.55,
            "flipped": False,
        }
    ],
    "settings_versions": [
        {
            "id": 1,
            "parent_id": 0,
            "created_at": T0,
            "author": "alice",
            "author_kind": "human",
            "reason": "tighten",
            "document": {"strategies.updown.gates.sigma.min_sigma": 2.0},
            "diff": {"strategies.updown.gates.sigma.min_sigma": [None, 2.0]},
        }
    ],
    "calibrations": [
        {
            "id": 1,
            "run_id": 1,
            "ts": T0 + 30 * MIN,
            "strategy": "updown",
            "n_wins": 3,
            "n_losses": 2,
            "win_gamma": 0.1,
            "loss_gamma": 0.2,
            "applied": True,
            "before": {"min_sigma": 1.5},
            "after": {"min_sigma": 2.0},
        }
    ],
    "regime_changes": [
        {
            "id": 1,
            "run_id": 1,
            "ts": T0 + 20 * MIN,
            "regime": "choppy",
            "flip_rate": 0.3,
            "sample": 40,
        }
    ],
    "breaker_events": [
        {
            "id": 1,
            "run_id": 1,
            "ts": T0 + 40 * MIN,
            "event": "trip",
            "cause": "day_loss",
            "value": -50.0,
            "detail": "lost 50 today",
            "author": "engine",
        }
    ],
}

# What a column a revision lacked holds at head (the rest: NULL).
DEFAULTS = {
    ("markets", "kind"): "updown",
    ("markets", "augmented"): False,
    ("orders", "done"): True,
    ("fills", "reverted"): False,
}


def _plain(value: object) -> object:
    """Comparable across stores: UTC without tzinfo (SQLite keeps none), floats, ints."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, bool):
        return int(value)
    return value


def populate(url: str) -> dict[str, set[str]]:
    """Write :data:`ROWS` into the tables ``url`` has; returns each table's columns then."""
    engine = make_engine(url)
    meta = MetaData()
    meta.reflect(engine)
    columns = {}
    with engine.begin() as conn:
        for name, rows in ROWS.items():
            if name not in meta.tables:
                continue
            table = meta.tables[name]
            columns[name] = {c.name for c in table.columns}
            for row in rows:  # one by one: rows leave different columns to their defaults
                conn.execute(table.insert().values({k: v for k, v in row.items() if k in table.c}))
    engine.dispose()
    return columns


def assert_intact(url: str, columns: dict[str, set[str]]) -> None:
    """Every row :func:`populate` wrote is there with its values; the columns it could not
    write hold their defaults; every run-scoped row belongs to run 1 (``legacy`` when the
    ledger predates runs)."""
    engine = make_engine(url)
    meta = MetaData()
    meta.reflect(engine)
    with engine.connect() as conn:
        for name, had in columns.items():
            table = meta.tables[name]
            got = [r._asdict() for r in conn.execute(select(table).order_by(*table.primary_key))]
            assert len(got) == len(ROWS[name]), name
            for row, wrote in zip(got, ROWS[name], strict=True):
                for col, value in row.items():
                    if col in had:
                        want = wrote.get(col)
                    elif col == "run_id":
                        want = 1
                    else:
                        want = DEFAULTS.get((name, col))
                    assert _plain(value) == _plain(want), (name, col, value, want)
        runs = conn.execute(text("SELECT id, name, status FROM runs ORDER BY id")).all()
        legacy = "runs" not in columns
        assert [tuple(r) for r in runs] == [(1, "legacy" if legacy else "old", "finished")]
    engine.dispose()
