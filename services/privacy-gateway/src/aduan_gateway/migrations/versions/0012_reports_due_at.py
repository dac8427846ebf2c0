"""Queues sorted by due date: the running clock's deadline on the report row (issue 14).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04
"""

from __future__ import annotations

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # IF NOT EXISTS: revision 0001 creates `reports` from the current table definition.
    op.execute("ALTER TABLE reports ADD COLUMN IF NOT EXISTS due_at timestamptz")
    # From each report's latest step (what the consumers will keep up to date from now on).
    op.execute(
        """
        UPDATE reports r SET due_at = (t.extra ->> 'due_at')::timestamptz
        FROM timeline t
        WHERE t.report_id = r.report_id AND t.version = r.status_version
          AND t.extra ? 'due_at' AND t.extra ->> 'due_at' IS NOT NULL
        """
    )
    op.execute("CREATE INDEX IF NOT EXISTS ix_reports_due ON reports (due_at)")


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS ix_reports_due")
    op.execute("ALTER TABLE reports DROP COLUMN IF EXISTS due_at")
