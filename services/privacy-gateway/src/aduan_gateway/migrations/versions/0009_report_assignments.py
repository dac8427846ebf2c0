"""Assignment of a report to a named officer of its agency (issue 14).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03
"""

from __future__ import annotations

from alembic import op

from aduan_gateway.adapters.tables import ASSIGNMENTS

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    ASSIGNMENTS.create(op.get_bind(), checkfirst=True)


def downgrade() -> None:
    ASSIGNMENTS.drop(op.get_bind(), checkfirst=True)
