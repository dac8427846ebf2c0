"""A timeline change touches only the reports rows that need it (issue 18).

Revision 0020's statement trigger updates every report whose timeline changed, so that a
public read's fill (which checks the row version it read) cannot store a view computed
before the change. But the projector upserts a report's status in the same transaction
just before it adds the step to the timeline: that row already has a new version (its
`xmin` is this transaction) and its view was emptied by the row trigger, and the second
update only wrote the whole row again, all fifteen indexes and the trigram entries of its
text included. pg_stat_statements in a 100/s bench: 0.4 ms of PostgreSQL a complaint, a
seventh of the gateway database's time, for nothing.

Now the rows updated are those still holding a view, or whose current version is not this
transaction's (an older step joining the timeline, moderation, an operator's fix): the
guarantee is the same, a fill that read the row before this transaction finds another
version. A row written in a subtransaction has another `xmin` and is updated, as before.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-05
"""

from __future__ import annotations

from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None

_BODY = """
        CREATE OR REPLACE FUNCTION timeline_public_view_stale() RETURNS trigger AS $$
        BEGIN
            UPDATE reports SET public_view = NULL, public_view_format = NULL
            WHERE report_id IN (SELECT DISTINCT report_id FROM changed){guard};
            RETURN NULL;
        END;
        $$ LANGUAGE plpgsql
        """


def upgrade() -> None:
    op.execute(
        _BODY.format(
            guard=(
                "\n              AND (public_view IS NOT NULL OR public_view_format IS NOT NULL"
                "\n                   OR xmin <> pg_current_xact_id()::xid)"
            )
        )
    )


def downgrade() -> None:
    op.execute(_BODY.format(guard=""))
