"""controls: what each engine did with each settings version; the breaker's counters per run

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 11:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "settings_applications",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("instance", sa.String(length=128), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("protected", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('applied', 'refused')", name=op.f("ck_settings_applications_status")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_settings_applications")),
    )
    op.create_index(
        op.f("ix_settings_applications_version_id"), "settings_applications", ["version_id"]
    )
    op.create_table(
        "breaker_state",
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("tripped", sa.Boolean(), nullable=False),
        sa.Column("cause", sa.String(length=32), nullable=False),
        sa.Column("day", sa.Integer(), nullable=False),
        sa.Column("day_pnl", sa.Float(), nullable=False),
        sa.Column("streak", sa.Integer(), nullable=False),
        sa.Column("peak", sa.Float(), nullable=True),
        sa.Column("updated_ts", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name=op.f("fk_breaker_state_run_id_runs")),
        sa.PrimaryKeyConstraint("run_id", name=op.f("pk_breaker_state")),
    )


def downgrade() -> None:
    op.drop_table("breaker_state")
    op.drop_index(op.f("ix_settings_applications_version_id"), table_name="settings_applications")
    op.drop_table("settings_applications")
