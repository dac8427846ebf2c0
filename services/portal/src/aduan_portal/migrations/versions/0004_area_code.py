"""Public reports by administrative area (issue 19): the area's Kemendagri code, indexed for
"this kota or kecamatan and everything inside it".

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # IF NOT EXISTS: revision 0001 may build the table from the current definition.
    op.execute("ALTER TABLE public_reports ADD COLUMN IF NOT EXISTS area_code varchar(13)")
    op.execute(
        "CREATE INDEX IF NOT EXISTS ix_public_reports_area_code "
        "ON public_reports (area_code text_pattern_ops)"
    )


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS ix_public_reports_area_code")
    op.execute("ALTER TABLE public_reports DROP COLUMN IF EXISTS area_code")
