"""Officer text (stored, searched), the sealed original text, moderation; every report's
stored public and officer texts computed with the current rules (issue 13).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03
"""

from __future__ import annotations

from alembic import op

from aduan_gateway.adapters.readmodel import SET_TEXTS, select_with_key
from aduan_gateway.adapters.tables import REPORTS
from aduan_gateway.domain.rows import text_columns

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_BATCH = 500


def upgrade() -> None:
    # IF NOT EXISTS: revision 0001 creates `reports` from the current table definition.
    for column in ("officer_title", "officer_text", "moderated_title", "moderated_text"):
        op.execute(f"ALTER TABLE reports ADD COLUMN IF NOT EXISTS {column} text")
    op.execute("ALTER TABLE reports ADD COLUMN IF NOT EXISTS sealed_original jsonb")
    op.execute(
        "ALTER TABLE reports ADD COLUMN IF NOT EXISTS public_hidden boolean NOT NULL DEFAULT false"
    )
    # Officer views and the text search read only the stored officer text now, and the
    # public text hides more (street addresses, the reporter's values in any format):
    # compute both for every report with content (NULL while its reporter's key has not
    # arrived; the key's arrival computes them). In this migration's transaction, so no
    # gateway of this version reads the columns before they are filled; keyset pages.
    bind = op.get_bind()
    last = None
    while True:
        query = select_with_key().where(REPORTS.c.has_content.is_(True))
        if last is not None:
            query = query.where(REPORTS.c.report_id > last)
        rows = bind.execute(query.order_by(REPORTS.c.report_id).limit(_BATCH)).mappings().all()
        if not rows:
            return
        bind.execute(SET_TEXTS, [{"rid": r["report_id"], **text_columns(r)} for r in rows])
        last = rows[-1]["report_id"]


def downgrade() -> None:
    for column in (
        "public_hidden",
        "sealed_original",
        "moderated_text",
        "moderated_title",
        "officer_text",
        "officer_title",
    ):
        op.execute(f"ALTER TABLE reports DROP COLUMN {column}")
