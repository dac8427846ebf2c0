"""Internal notes on a report (officers only; issue 14).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03
"""

from __future__ import annotations

from alembic import op

from aduan_gateway.adapters.tables import NOTES

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    NOTES.create(op.get_bind(), checkfirst=True)


def downgrade() -> None:
    NOTES.drop(op.get_bind(), checkfirst=True)
