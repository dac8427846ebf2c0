"""The category catalogue (names and the agency each category is routed to).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27
"""

from __future__ import annotations

from alembic import op

from aduan_gateway.adapters.tables import CATEGORIES

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    CATEGORIES.create(op.get_bind(), checkfirst=True)


def downgrade() -> None:
    CATEGORIES.drop(op.get_bind(), checkfirst=True)
