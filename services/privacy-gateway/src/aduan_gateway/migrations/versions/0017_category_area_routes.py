"""Routing by place (issue 19): each category carries its area routes (Kemendagri area
code -> agency), published with the rest of the category's state (decisions D18).

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-04
"""

from __future__ import annotations

from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # IF NOT EXISTS: revision 0004 creates `categories` from the current table definition.
    # Existing categories start without routes (they route exactly as before).
    op.execute(
        "ALTER TABLE categories ADD COLUMN IF NOT EXISTS area_routes jsonb NOT NULL "
        "DEFAULT '[]'::jsonb"
    )


def downgrade() -> None:
    op.execute("ALTER TABLE categories DROP COLUMN IF EXISTS area_routes")
