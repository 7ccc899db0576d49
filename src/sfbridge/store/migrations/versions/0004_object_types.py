"""Object types: the custom object types syncs send objects of, by id and name.

Revision ID: 0004
Revises: 0003
Create Date: 2025-01-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Create ``object_types``; plural names are unique, as in a workspace."""
    op.create_table(
        "object_types",
        sa.Column("id", sa.String(16), nullable=False),
        sa.Column("singular", sa.String(100), nullable=False),
        sa.Column("plural", sa.String(100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_object_types"),
        sa.UniqueConstraint("plural", name="uq_object_types_plural"),
    )


def downgrade() -> None:
    """Drop ``object_types``."""
    op.drop_table("object_types")
