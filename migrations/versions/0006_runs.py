"""runs: run identity on every row; the order lifecycle (latency, expiry, done); fills' level size and reverts

Rows written before this revision belong to one run, ``legacy``, created here when
there are any.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 17:55:48
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

RUN_TABLES = (
    "signals",
    "orders",
    "fills",
    "positions",
    "calibrations",
    "regime_changes",
    "breaker_events",
)


def _add_run_id(table: str, legacy: int | None) -> None:
    with op.batch_alter_table(table) as batch:
        batch.add_column(sa.Column("run_id", sa.Integer(), nullable=True))
    if legacy is not None:
        op.execute(sa.text(f"UPDATE {table} SET run_id = :r").bindparams(r=legacy))
    with op.batch_alter_table(table) as batch:
        batch.alter_column("run_id", existing_type=sa.Integer(), nullable=False)
        batch.create_index(batch.f(f"ix_{table}_run_id"), ["run_id"], unique=False)
        batch.create_foreign_key(batch.f(f"fk_{table}_run_id_runs"), "runs", ["run_id"], ["id"])


def upgrade() -> None:
    op.create_table(
        "runs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=128), nullable=True),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("feed", sa.String(length=32), nullable=False),
        sa.Column("seed", sa.Integer(), nullable=True),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("feed_identity", sa.JSON(), nullable=False),
        sa.Column("config", sa.JSON(), nullable=False),
        sa.Column("settings_version", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("first_ts", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_ts", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_runs")),
        sa.UniqueConstraint("name", name=op.f("uq_runs_name")),
    )
    op.create_index(op.f("ix_runs_status"), "runs", ["status"], unique=False)

    bind = op.get_bind()
    has_rows = any(
        bind.execute(sa.text(f"SELECT 1 FROM {t} LIMIT 1")).first() is not None for t in RUN_TABLES
    )
    legacy = None
    if has_rows:
        runs = sa.table(
            "runs",
            *(sa.column(c) for c in ("id", "name", "mode", "feed", "fingerprint")),
            sa.column("feed_identity", sa.JSON()),
            sa.column("config", sa.JSON()),
            *(sa.column(c) for c in ("settings_version", "started_at", "status")),
        )
        op.bulk_insert(
            runs,
            [
                {
                    "id": 1,
                    "name": "legacy",
                    "mode": "paper",
                    "feed": "sim",
                    "fingerprint": "legacy",
                    "feed_identity": {},
                    "config": {},
                    "settings_version": 0,
                    "started_at": datetime.now(UTC),
                    "status": "finished",
                }
            ],
        )
        legacy = 1

    # The orders -> signals key reference depends on signals' old unique key: drop it first.
    with op.batch_alter_table("orders") as batch:
        batch.drop_constraint("fk_orders_signal_key_signals", type_="foreignkey")
        batch.drop_constraint("uq_orders_signal_key", type_="unique")
    for table in RUN_TABLES:
        _add_run_id(table, legacy)

    with op.batch_alter_table("signals") as batch:
        batch.drop_constraint("uq_signals_key", type_="unique")
        batch.create_unique_constraint(batch.f("uq_signals_run_id"), ["run_id", "key"])
    with op.batch_alter_table("orders") as batch:
        batch.add_column(sa.Column("price", sa.Float(), nullable=True))
        batch.add_column(sa.Column("fee_rate", sa.Float(), nullable=True))
        batch.add_column(sa.Column("arrive_ts", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("expire_ts", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("latency_ms", sa.Float(), nullable=True))
        batch.add_column(
            sa.Column("done", sa.Boolean(), server_default=sa.text("true"), nullable=False)
        )
        batch.add_column(sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True))
        batch.create_index(batch.f("ix_orders_done"), ["done"], unique=False)
        batch.create_unique_constraint(batch.f("uq_orders_run_id"), ["run_id", "signal_key"])
        batch.create_foreign_key(
            batch.f("fk_orders_run_id_signals"),
            "signals",
            ["run_id", "signal_key"],
            ["run_id", "key"],
        )
    with op.batch_alter_table("fills") as batch:
        batch.add_column(sa.Column("level_size", sa.Float(), nullable=True))
        batch.add_column(
            sa.Column("reverted", sa.Boolean(), server_default=sa.text("false"), nullable=False)
        )
        batch.create_index(batch.f("ix_fills_ts"), ["ts"], unique=False)
    with op.batch_alter_table("positions") as batch:
        batch.drop_constraint("uq_positions_strategy", type_="unique")
        batch.create_unique_constraint(
            batch.f("uq_positions_run_id"), ["run_id", "strategy", "market_id", "side"]
        )


def downgrade() -> None:
    # Keys are unique per run only from here on: going back needs them unique overall again.
    with op.batch_alter_table("positions") as batch:
        batch.drop_constraint("uq_positions_run_id", type_="unique")
        batch.create_unique_constraint("uq_positions_strategy", ["strategy", "market_id", "side"])
    with op.batch_alter_table("fills") as batch:
        batch.drop_index("ix_fills_ts")
        batch.drop_column("reverted")
        batch.drop_column("level_size")
    with op.batch_alter_table("orders") as batch:
        batch.drop_constraint("fk_orders_run_id_signals", type_="foreignkey")
        batch.drop_constraint("uq_orders_run_id", type_="unique")
        batch.drop_index("ix_orders_done")
        for column in (
            "updated_at",
            "done",
            "latency_ms",
            "expire_ts",
            "arrive_ts",
            "fee_rate",
            "price",
        ):
            batch.drop_column(column)
    with op.batch_alter_table("signals") as batch:
        batch.drop_constraint("uq_signals_run_id", type_="unique")
        batch.create_unique_constraint("uq_signals_key", ["key"])
    for table in RUN_TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_constraint(f"fk_{table}_run_id_runs", type_="foreignkey")
            batch.drop_index(f"ix_{table}_run_id")
            batch.drop_column("run_id")
    with op.batch_alter_table("orders") as batch:
        batch.create_unique_constraint("uq_orders_signal_key", ["signal_key"])
        batch.create_foreign_key("fk_orders_signal_key_signals", "signals", ["signal_key"], ["key"])
    op.drop_index(op.f("ix_runs_status"), table_name="runs")
    op.drop_table("runs")
