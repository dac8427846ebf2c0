"""The stored public (redacted) title and text of each report, computed for existing rows.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28
"""

from __future__ import annotations

from alembic import op

from aduan_gateway.readmodel import SET_PUBLIC, public_columns, select_with_key
from aduan_gateway.tables import REPORTS

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_BATCH = 500


def upgrade() -> None:
    # IF NOT EXISTS: revision 0001 creates `reports` from the current table definition, so
    # a fresh database already has the columns.
    op.execute("ALTER TABLE reports ADD COLUMN IF NOT EXISTS public_title text")
    op.execute("ALTER TABLE reports ADD COLUMN IF NOT EXISTS public_text text")
    # Public reads show only the stored text now: compute it for every report with content,
    # by the rule the per-read redaction used (the reporter's key joined; NULL while it has
    # not arrived, and then the key's arrival computes it). In this migration's transaction,
    # so no gateway of this version reads the column before it is filled. Keyset pages, so
    # a large table is not held in memory.
    bind = op.get_bind()
    last = None
    while True:
        query = select_with_key().where(REPORTS.c.has_content.is_(True))
        if last is not None:
            query = query.where(REPORTS.c.report_id > last)
        rows = bind.execute(query.order_by(REPORTS.c.report_id).limit(_BATCH)).mappings().all()
        if not rows:
            return
        bind.execute(SET_PUBLIC, [{"rid": r["report_id"], **public_columns(r)} for r in rows])
        last = rows[-1]["report_id"]


def downgrade() -> None:
    op.execute("ALTER TABLE reports DROP COLUMN public_text")
    op.execute("ALTER TABLE reports DROP COLUMN public_title")
