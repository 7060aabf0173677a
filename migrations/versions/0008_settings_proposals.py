"""settings_proposals: parameters a tuner proposes, applied by a human as a new version

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04 02:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "settings_proposals",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("author", sa.String(length=128), nullable=False),
        sa.Column("author_kind", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("changes", sa.JSON(), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("based_on", sa.Integer(), nullable=False),
        sa.Column("applied_version", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "author_kind IN ('tuner')", name=op.f("ck_settings_proposals_author_kind")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_settings_proposals")),
        sa.UniqueConstraint("applied_version", name=op.f("uq_settings_proposals_applied_version")),
    )


def downgrade() -> None:
    op.drop_table("settings_proposals")
