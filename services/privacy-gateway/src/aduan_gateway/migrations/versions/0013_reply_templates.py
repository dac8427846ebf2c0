"""Reply templates administrators keep for officers' follow-ups, returns, rejections and
questions (issue 14).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04
"""

from __future__ import annotations

from alembic import op

from aduan_gateway.adapters.tables import REPLY_TEMPLATES

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # From the table definition, like 0011 (checkfirst: a fresh database built by an
    # earlier revision from the current definitions already has it).
    REPLY_TEMPLATES.create(op.get_bind(), checkfirst=True)


def downgrade() -> None:
    REPLY_TEMPLATES.drop(op.get_bind(), checkfirst=True)
