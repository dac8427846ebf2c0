"""The officer's copy of each timeline reason, scrubbed when stored, so an officer's read
opens no identity (issue 18).

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-04
"""

from __future__ import annotations

from alembic import op
from sqlalchemy import and_, bindparam, select, update

from aduan_gateway.adapters.tables import REPORTER_KEYS, REPORTS, TIMELINE
from aduan_gateway.domain.rows import officer_reason, reporter_terms

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

_BATCH = 500


def upgrade() -> None:
    # IF NOT EXISTS: revision 0001 creates `timeline` from the current table definition.
    op.execute("ALTER TABLE timeline ADD COLUMN IF NOT EXISTS officer_reason text")
    # Every reason as officers read it, with the reporter's values hidden where the key is
    # held (NULL for none: no reason). In this migration's transaction, so no gateway of
    # this version reads the column before it is filled; keyset pages.
    bind = op.get_bind()
    query = (
        select(
            TIMELINE.c.report_id,
            TIMELINE.c.version,
            TIMELINE.c.reason,
            REPORTS.c.sealed_identity,
            REPORTER_KEYS.c.key.label("reporter_key"),
        )
        .select_from(
            TIMELINE.join(REPORTS, REPORTS.c.report_id == TIMELINE.c.report_id).outerjoin(
                REPORTER_KEYS, REPORTER_KEYS.c.key_id == REPORTS.c.reporter_key_id
            )
        )
        .where(TIMELINE.c.reason.is_not(None))
        .order_by(TIMELINE.c.report_id, TIMELINE.c.version)
        .limit(_BATCH)
    )
    store = (
        update(TIMELINE)
        .where(
            and_(
                TIMELINE.c.report_id == bindparam("rid"),
                TIMELINE.c.version == bindparam("v"),
            )
        )
        .values(officer_reason=bindparam("scrubbed"))
    )
    last: tuple[object, int] | None = None
    while True:
        page = query
        if last is not None:
            page = page.where(
                (TIMELINE.c.report_id > last[0])
                | and_(TIMELINE.c.report_id == last[0], TIMELINE.c.version > last[1])
            )
        rows = bind.execute(page).mappings().all()
        if not rows:
            return
        bind.execute(
            store,
            [
                {
                    "rid": r["report_id"],
                    "v": r["version"],
                    "scrubbed": officer_reason(r["reason"], reporter_terms(r)),
                }
                for r in rows
            ],
        )
        last = (rows[-1]["report_id"], rows[-1]["version"])


def downgrade() -> None:
    op.execute("ALTER TABLE timeline DROP COLUMN IF EXISTS officer_reason")
