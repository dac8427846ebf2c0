"""Initial schema: messaging tables, reports, status history, routing rules.

Revision ID: 0001
Revises:
Create Date: 2026-11-27
"""

from __future__ import annotations

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
        "reports",
        sa.Column("id", postgresql.UUID(as_uuid=True), primary_key=True),
        sa.Column("receipt_code", sa.String(32), nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("agency_id", sa.String(64), nullable=True),
        sa.Column("category", sa.String(100), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("merged_into", postgresql.UUID(as_uuid=True), nullable=True),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
    )
    # Officers' work lists: "reports of my agency in this status".
    op.create_index("ix_reports_agency_status", "reports", ["agency_id", "status"])
    op.create_index("ix_reports_receipt_code", "reports", ["receipt_code"])
    op.create_table(
        "status_history",
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=True),
        sa.Column("report_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("from_status", sa.String(32), nullable=True),
        sa.Column("to_status", sa.String(32), nullable=False),
        sa.Column("actor_id", sa.String(128), nullable=False),
        sa.Column("actor_role", sa.String(32), nullable=False),
        sa.Column("actor_agency", sa.String(64), nullable=True),
        sa.Column("actor_display_name", sa.String(200), nullable=True),
        sa.Column("reason", sa.String(5000), nullable=True),
        sa.Column("follow_up", postgresql.JSONB, nullable=True),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("report_id", "version", name="uq_status_history_report_version"),
    )
    op.create_table(
        "routing_rules",
        sa.Column("category", sa.String(100), primary_key=True),
        sa.Column("agency_id", sa.String(64), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("routing_rules")
    op.drop_table("status_history")
    op.drop_table("reports")
    op.drop_table("inbox")
    op.drop_table("outbox")
