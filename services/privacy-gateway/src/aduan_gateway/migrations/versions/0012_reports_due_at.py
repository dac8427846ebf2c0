"""Queues sorted by due date: the running clock's deadline on the report row (issue 14).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("reports", sa.Column("due_at", sa.DateTime(timezone=True), nullable=True))
    # From each report's latest step (what the consumers will keep up to date from now on).
    op.execute(
        """
        UPDATE reports r SET due_at = (t.extra ->> 'due_at')::timestamptz
        FROM timeline t
        WHERE t.report_id = r.report_id AND t.version = r.status_version
          AND t.extra ? 'due_at' AND t.extra ->> 'due_at' IS NOT NULL
        """
    )
    op.create_index("ix_reports_due", "reports", ["due_at"])


def downgrade() -> None:
    op.drop_index("ix_reports_due", table_name="reports")
    op.drop_column("reports", "due_at")
