"""Initial schema: inbox/outbox, recipients, reporter keys, parked notifications, deliveries.

Revision ID: 0001
Revises:
Create Date: 2026-01-01
"""

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from aduan_kit.messaging import create_messaging_tables

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _now() -> sa.Column[datetime]:
    return sa.Column(
        "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
    )


def upgrade() -> None:
    create_messaging_tables(op)
    op.create_table(
        "recipients",
        sa.Column("report_id", postgresql.UUID(as_uuid=True), primary_key=True),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("language", sa.String(2), nullable=False),
        sa.Column("receipt_code", sa.String(32), nullable=False),
        sa.Column("key_id", postgresql.UUID(as_uuid=True), nullable=True),
        sa.Column("sealed_identity", postgresql.JSONB, nullable=True),
        sa.Column("erased_at", sa.DateTime(timezone=True), nullable=True),
        _now(),
    )
    op.create_index("ix_recipients_key_id", "recipients", ["key_id"])
    op.create_table(
        "reporter_keys",
        sa.Column("key_id", postgresql.UUID(as_uuid=True), primary_key=True),
        sa.Column("key", sa.Text, nullable=True),
        sa.Column(
            "issued_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.Column("shredded_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_table(
        "pending_notifications",
        sa.Column("status_event_id", postgresql.UUID(as_uuid=True), primary_key=True),
        sa.Column("report_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("event", postgresql.JSONB, nullable=False),
        _now(),
    )
    op.create_index("ix_pending_notifications_report_id", "pending_notifications", ["report_id"])
    op.create_table(
        "deliveries",
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=True),
        sa.Column("report_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("status_event_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("template", sa.String(64), nullable=False),
        sa.Column("language", sa.String(2), nullable=False),
        sa.Column("receipt_code", sa.String(32), nullable=False),
        sa.Column("subject", sa.String(300), nullable=True),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        _now(),
        sa.UniqueConstraint(
            "status_event_id", "channel", name="uq_deliveries_status_event_channel"
        ),
        sa.CheckConstraint("state IN ('recorded', 'sent', 'failed')", name="ck_deliveries_state"),
    )
    op.create_index("ix_deliveries_report_id", "deliveries", ["report_id"])


def downgrade() -> None:
    for table in (
        "deliveries",
        "pending_notifications",
        "reporter_keys",
        "recipients",
        "inbox",
        "outbox",
    ):
        op.drop_table(table)
