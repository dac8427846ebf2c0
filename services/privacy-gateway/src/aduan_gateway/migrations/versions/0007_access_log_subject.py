"""The access log filtered by who read (the console's actor filter, issue 14).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # IF NOT EXISTS: revision 0001 creates the tables from the current definitions.
    op.execute("CREATE INDEX IF NOT EXISTS ix_access_log_subject ON access_log (subject, id)")


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS ix_access_log_subject")
