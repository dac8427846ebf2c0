"""Shredded reporter keys keep their row (key NULL, shredded_at set).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE reporter_keys ALTER COLUMN key DROP NOT NULL")
    op.execute("ALTER TABLE reporter_keys ADD COLUMN IF NOT EXISTS shredded_at timestamptz")


def downgrade() -> None:
    op.execute("DELETE FROM reporter_keys WHERE key IS NULL")
    op.execute("ALTER TABLE reporter_keys DROP COLUMN shredded_at")
    op.execute("ALTER TABLE reporter_keys ALTER COLUMN key SET NOT NULL")
