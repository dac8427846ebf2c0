"""The stored public (redacted) title and text of each report, computed for existing rows.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # IF NOT EXISTS: revision 0001 creates `reports` from the current table definition, so
    # a fresh database already has the columns.
    op.execute("ALTER TABLE reports ADD COLUMN IF NOT EXISTS public_title text")
    op.execute("ALTER TABLE reports ADD COLUMN IF NOT EXISTS public_text text")
    # The texts are computed for existing rows by revision 0006, with the current rules
    # (the read model's queries select every column of the current table, which this
    # revision's database does not have yet).


def downgrade() -> None:
    op.execute("ALTER TABLE reports DROP COLUMN public_text")
    op.execute("ALTER TABLE reports DROP COLUMN public_title")
