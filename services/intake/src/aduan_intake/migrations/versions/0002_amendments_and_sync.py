"""Amendments (replies added to an existing report) and sync cursors (LAPOR! pulls).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "amendments",
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("channel_message_id", sa.String(256), nullable=False),
        sa.Column("report_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("fingerprint", sa.LargeBinary(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.PrimaryKeyConstraint("channel", "channel_message_id", name="pk_amendments"),
    )
    op.create_table(
        "sync_cursors",
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("cursor", sa.String(256), nullable=False),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.PrimaryKeyConstraint("source", name="pk_sync_cursors"),
    )


def downgrade() -> None:
    op.drop_table("sync_cursors")
    op.drop_table("amendments")
