"""Initial schema: inbox, outbox, submissions, reporter keys.

Revision ID: 0001
Revises:
Create Date: 2026-01-01
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
        "submissions",
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("channel_message_id", sa.String(256), nullable=False),
        sa.Column("report_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("receipt_code", sa.String(13), nullable=False),
        sa.Column("fingerprint", sa.LargeBinary(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.PrimaryKeyConstraint("channel", "channel_message_id", name="pk_submissions"),
        sa.UniqueConstraint("report_id", name="uq_submissions_report_id"),
        sa.UniqueConstraint("receipt_code", name="uq_submissions_receipt_code"),
    )
    op.create_table(
        "reporter_keys",
        sa.Column("key_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("contact_digest", sa.LargeBinary(), nullable=True),
        sa.Column("key", sa.LargeBinary(), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.Column("shredded_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("key_id", name="pk_reporter_keys"),
        sa.UniqueConstraint("contact_digest", name="uq_reporter_keys_contact_digest"),
    )


def downgrade() -> None:
    op.drop_table("reporter_keys")
    op.drop_table("submissions")
    op.drop_table("inbox")
    op.drop_table("outbox")
