"""Formula refresh: when each sync last re-read its formula fields, and how many records it sent.

Revision ID: 0003
Revises: 0002
Create Date: 2025-01-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Add ``sync_cursors.formula_refreshed_at`` and ``sync_runs.refreshed``.

    Existing cursors have never refreshed (their next run refreshes, if the
    sync asks for it); existing runs refreshed nothing.
    """
    # Adding a column is a plain ALTER TABLE on SQLite too: no table is rebuilt.
    with op.batch_alter_table("sync_cursors") as table:
        table.add_column(
            sa.Column("formula_refreshed_at", sa.DateTime(timezone=True), nullable=True)
        )
    with op.batch_alter_table("sync_runs") as table:
        table.add_column(sa.Column("refreshed", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    """Drop the two columns."""
    with op.batch_alter_table("sync_runs") as table:
        table.drop_column("refreshed")
    with op.batch_alter_table("sync_cursors") as table:
        table.drop_column("formula_refreshed_at")
