"""Queues and lists by administrative area code (issue 19): the code intake resolved is in
the report's location (`location ->> 'area_code'`); a prefix index serves "this kota and
everything in it" as well as one kelurahan.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-04
"""

from __future__ import annotations

from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        "CREATE INDEX IF NOT EXISTS ix_reports_area_code "
        "ON reports ((location ->> 'area_code') text_pattern_ops)"
    )


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS ix_reports_area_code")
