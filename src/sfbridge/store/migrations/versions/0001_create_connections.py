"""Create the connections table.

Revision ID: 0001
Revises:
Create Date: 2025-01-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Create the connections table."""
    op.create_table(
        "connections",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=63), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("environment", sa.String(length=16), nullable=False),
        sa.Column("login_url", sa.String(length=255), nullable=False),
        sa.Column("instance_url", sa.String(length=255), nullable=True),
        sa.Column("auth_flow", sa.String(length=32), nullable=False),
        sa.Column("is_legacy", sa.Boolean(), nullable=False),
        sa.Column("client_id", sa.String(length=255), nullable=True),
        sa.Column("username", sa.String(length=255), nullable=True),
        sa.Column("org_id", sa.String(length=18), nullable=True),
        sa.Column("user_id", sa.String(length=18), nullable=True),
        sa.Column("api_version", sa.String(length=16), nullable=True),
        sa.Column("ca_bundle", sa.String(length=1024), nullable=True),
        sa.Column("budget_share", sa.Float(), nullable=False),
        sa.Column("secrets_encrypted", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_tested_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_test_ok", sa.Boolean(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_connections")),
        sa.UniqueConstraint("name", name=op.f("uq_connections_name")),
    )


def downgrade() -> None:
    """Drop the connections table."""
    op.drop_table("connections")
