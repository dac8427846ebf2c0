"""The reporter's rating of a completed report (issue 15).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04
"""

from __future__ import annotations

from alembic import op

from aduan_gateway.adapters.tables import RATINGS

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    RATINGS.create(op.get_bind(), checkfirst=True)


def downgrade() -> None:
    RATINGS.drop(op.get_bind(), checkfirst=True)
