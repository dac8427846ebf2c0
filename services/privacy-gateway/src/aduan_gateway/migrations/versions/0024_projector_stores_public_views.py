"""The projector stores the public view it made with the status it writes (issue 18).

A report's public view was made on its first public read after every change (the read
built it from the row and the timeline, answered, and a background fill wrote it back:
three statements and a write transaction on a read, ~1.5 gateway CPU-ms against ~0.4 for
a stored one). The projector makes the same view anyway (the portal's public event is
built from it), from the state it is about to write, so the status upsert now writes it
too (adapters/projection_pg.py).

For that view to stay, the timeline's trigger (revisions 0020, 0021) leaves every row this
transaction wrote, not only those without a view: the writer of the row decided its view
(the projector made it with the steps it adds; any other writer leaves the view unchanged
and the rows' own trigger empties it). A row this transaction did not write (an older step
joining the timeline, moderation, an operator's fix) has its view emptied, as before, so a
fill that read it before this transaction still finds another row version.

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-06
"""

from __future__ import annotations

from alembic import op

revision = "0024"
down_revision = "0023"
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
    op.execute(_BODY.format(guard="\n              AND xmin <> pg_current_xact_id()::xid"))


def downgrade() -> None:
    # Revision 0021's guard.
    op.execute(
        _BODY.format(
            guard=(
                "\n              AND (public_view IS NOT NULL OR public_view_format IS NOT NULL"
                "\n                   OR xmin <> pg_current_xact_id()::xid)"
            )
        )
    )
