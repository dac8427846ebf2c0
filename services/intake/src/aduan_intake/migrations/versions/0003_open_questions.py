"""Answers by SMS and WhatsApp reply: which reporter key filed each report, and the
officers' questions still waiting for an answer.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("submissions", sa.Column("key_id", postgresql.UUID(as_uuid=True), nullable=True))
    op.create_index(
        "ix_submissions_key_id",
        "submissions",
        ["key_id"],
        postgresql_where=sa.text("key_id IS NOT NULL"),
    )
    op.create_table(
        "open_questions",
        sa.Column("question_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("report_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("asked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("question_id", name="pk_open_questions"),
    )
    op.create_index(
        "ix_open_questions_report_open",
        "open_questions",
        ["report_id", "asked_at"],
        postgresql_where=sa.text("answered_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_open_questions_report_open", table_name="open_questions")
    op.drop_table("open_questions")
    op.drop_index("ix_submissions_key_id", table_name="submissions")
    op.drop_column("submissions", "key_id")
