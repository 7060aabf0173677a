"""A backtest's ledger: kept aside while it runs, written to the run's database at the end.

A backtest replays days in seconds, so it cannot pay a database round trip (and a commit) on
every tick that produces something. :class:`StagedLedger` gives the engine loop a scratch
SQLite ledger (a temporary file, never synced) with the same schema, and the loop writes to it
with the same code as in paper mode (so the rows are exactly those a paper run writes). :meth:`StagedLedger.publish` then copies
the run's rows to the target database in batches of ``batch`` rows inside ONE transaction: the
run's rows appear whole or not at all, and nothing already stored is touched except the run's
own row (its progress), and markets and outcomes that are not stored yet.

Ids: signals, orders, positions and the rest get the target's own ids; fills point at their
order by the target's id (mapped through the order's ``(run_id, signal_key)``, which is unique).
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, insert, select
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

from engine.ledger.models import (
    Base,
    BreakerEventRow,
    BreakerStateRow,
    CalibrationRow,
    FillRow,
    MarketRow,
    OrderRow,
    OutcomeRow,
    PositionRow,
    RegimeChangeRow,
    RunRow,
    SignalRow,
)

BATCH_ROWS = 5_000
# Rows of the run, in an order that respects the foreign keys; (table, has its own id).
_RUN_TABLES = (
    (SignalRow, True),
    (OrderRow, True),
    (PositionRow, True),
    (CalibrationRow, True),
    (RegimeChangeRow, True),
    (BreakerEventRow, True),
    (BreakerStateRow, False),
)
_RUN_FIELDS = ("status", "first_ts", "last_ts", "ended_at", "settings_version")


class StagedLedger:
    """The scratch ledger of run ``run_id``, copied from (and published to) ``target``."""

    def __init__(self, target: sessionmaker[Session], run_id: int) -> None:
        self.target = target
        self.run_id = run_id
        # A scratch SQLite file without durability (never fsynced, deleted at close): as fast
        # as memory for the loop's writes, and a month-long backtest's rows stay on disk, not
        # in the process's memory.
        self._scratch = tempfile.TemporaryDirectory(prefix="edgeloop-backtest-")
        self.engine = _scratch_engine(Path(self._scratch.name) / "ledger.db")
        Base.metadata.create_all(self.engine)
        self.sessions: sessionmaker[Session] = sessionmaker(self.engine, expire_on_commit=False)
        with target() as src, self.sessions.begin() as dst:
            run = src.get(RunRow, run_id)
            if run is None:
                raise LookupError(f"no run {run_id} in the target database")
            dst.execute(insert(RunRow), [_row(run)])

    def publish(self, batch: int = BATCH_ROWS) -> dict[str, int]:
        """Copy the run's rows to the target in one transaction; rows written per table."""
        written: dict[str, int] = {}
        with self.sessions() as src, self.target.begin() as dst:
            # Markets and outcomes are shared facts: only those the target lacks.
            for table in (MarketRow, OutcomeRow):
                staged = {r.market_id: r for r in src.scalars(select(table))}
                known = _existing(dst, table, list(staged), batch)
                rows = (_row(r) for mid, r in staged.items() if mid not in known)
                written[table.__tablename__] = _insert(dst, table, rows, batch)
            for table, own_id in _RUN_TABLES:
                rows = (
                    _row(r, drop_id=own_id)
                    for r in src.scalars(
                        select(table)
                        .where(table.run_id == self.run_id)
                        .order_by(*table.__table__.primary_key.columns)
                    )
                )
                written[table.__tablename__] = _insert(dst, table, rows, batch)
            # Fills: their order's id in the target, through the order's signal key.
            staged_keys = dict(
                src.execute(
                    select(OrderRow.id, OrderRow.signal_key).where(OrderRow.run_id == self.run_id)
                ).all()
            )
            target_ids = {
                key: oid
                for oid, key in dst.execute(
                    select(OrderRow.id, OrderRow.signal_key).where(OrderRow.run_id == self.run_id)
                ).all()
            }
            fills = (
                _row(f, drop_id=True) | {"order_id": target_ids[staged_keys[f.order_id]]}
                for f in src.scalars(
                    select(FillRow).where(FillRow.run_id == self.run_id).order_by(FillRow.id)
                )
            )
            written["fills"] = _insert(dst, FillRow, fills, batch)
            run = src.get(RunRow, self.run_id)
            stored = dst.get(RunRow, self.run_id)
            for name in _RUN_FIELDS:
                setattr(stored, name, getattr(run, name))
        return written

    def close(self) -> None:
        self.engine.dispose()
        self._scratch.cleanup()


def _scratch_engine(path: Path) -> Engine:
    engine = create_engine(f"sqlite:///{path}", poolclass=StaticPool)

    @event.listens_for(engine, "connect")
    def _pragmas(conn, _record) -> None:  # noqa: ANN001
        for pragma in ("foreign_keys=ON", "journal_mode=OFF", "synchronous=OFF"):
            conn.execute(f"PRAGMA {pragma}")

    return engine


def _row(obj: Base, *, drop_id: bool = False) -> dict:
    row = {c.key: getattr(obj, c.key) for c in obj.__mapper__.column_attrs}
    if drop_id:
        row.pop("id", None)
    return row


def _existing(session: Session, table: type[Base], ids: list[str], batch: int) -> set[str]:
    """Which of ``ids`` the target already holds in ``table`` (keyed by ``market_id``)."""
    found: set[str] = set()
    for i in range(0, len(ids), batch):
        found.update(
            session.scalars(select(table.market_id).where(table.market_id.in_(ids[i : i + batch])))
        )
    return found


def _insert(session: Session, table: type[Base], rows, batch: int) -> int:  # noqa: ANN001
    n = 0
    for chunk in _chunks(rows, batch):
        session.execute(insert(table), chunk)
        n += len(chunk)
    return n


def _chunks(rows, size: int) -> Iterator[list[dict]]:  # noqa: ANN001
    chunk: list[dict] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
