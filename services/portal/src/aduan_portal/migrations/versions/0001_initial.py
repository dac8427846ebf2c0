"""Initial schema: inbox/outbox and the public read model.

Revision ID: 0001
Revises:
Create Date: 2026-01-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from aduan_kit.messaging import create_messaging_tables

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_messaging_tables(op)
    op.create_table(
        "public_reports",
        sa.Column("report_id", postgresql.UUID(as_uuid=True), primary_key=True),
        sa.Column("public_id", sa.String(64), nullable=False),
        sa.Column("title", sa.String(300), nullable=True),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("category", sa.String(100), nullable=True),
        sa.Column("agency_id", sa.String(64), nullable=True),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("status_label", sa.String(100), nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("area", sa.String(200), nullable=True),
        sa.Column("month", sa.String(7), nullable=False),
        sa.Column("confidentiality_label", sa.String(300), nullable=False),
        sa.Column(
            "timeline", postgresql.JSONB, nullable=False, server_default=sa.text("'[]'::jsonb")
        ),
        sa.Column("withdrawn", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_public_reports_public_id", "public_reports", ["public_id"])
    op.create_index("ix_public_reports_updated_at", "public_reports", ["updated_at"])


def downgrade() -> None:
    op.drop_table("public_reports")
    op.drop_table("inbox")
    op.drop_table("outbox")
