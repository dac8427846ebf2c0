"""Ask the reporter: officers' questions and what the reporter wrote back (issue 14).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04
"""

from __future__ import annotations

from alembic import op

from aduan_gateway.adapters.tables import QUESTIONS, REPORTER_MESSAGES

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    QUESTIONS.create(op.get_bind(), checkfirst=True)
    REPORTER_MESSAGES.create(op.get_bind(), checkfirst=True)


def downgrade() -> None:
    REPORTER_MESSAGES.drop(op.get_bind(), checkfirst=True)
    QUESTIONS.drop(op.get_bind(), checkfirst=True)
