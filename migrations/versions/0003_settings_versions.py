"""settings_versions: the settings service's append-only version line

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 01:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "settings_versions",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("parent_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("author", sa.String(length=128), nullable=False),
        sa.Column("author_kind", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.Column("diff", sa.JSON(), nullable=False),
        sa.Column("rollback_of", sa.Integer(), nullable=True),
        sa.CheckConstraint("id = parent_id + 1", name=op.f("ck_settings_versions_line")),
        sa.CheckConstraint(
            "author_kind IN ('human', 'governor', 'calibrator')",
            name=op.f("ck_settings_versions_author_kind"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_settings_versions")),
        sa.UniqueConstraint("parent_id", name=op.f("uq_settings_versions_parent_id")),
    )


def downgrade() -> None:
    op.drop_table("settings_versions")
