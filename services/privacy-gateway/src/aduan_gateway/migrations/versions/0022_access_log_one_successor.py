"""One successor per access-log entry (issue 18): a unique index on `prev_hash`.

The access-log writer links a batch to the last entry it wrote itself in one statement,
without reading the chain's end under the lock first; when another writer appended in
between, this index refuses the batch (the entry already has a successor) and the writer
appends the long way. The chain has always been linear (every writer read its end under
the advisory lock), so existing rows satisfy it; the first entry's NULL is the only one.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-06
"""

from __future__ import annotations

from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # IF NOT EXISTS: revision 0001 creates `access_log` from the current table definition.
    op.execute(
        "CREATE UNIQUE INDEX IF NOT EXISTS uq_access_log_prev_hash ON access_log (prev_hash)"
    )


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS uq_access_log_prev_hash")
