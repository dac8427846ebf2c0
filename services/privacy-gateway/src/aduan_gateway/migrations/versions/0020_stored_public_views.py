"""Each report's public view stored as the JSON the public is answered with, emptied by
the database whenever the report or its timeline changes (issue 18; adapters/publicviews.py).

Why triggers and not the writers: every path that changes what the public sees (the
projector's upserts, moderation, erasure, a later migration, an operator's fix by hand)
empties the stored view without having to know it exists, so none can leave a stale one.

- `reports`, BEFORE UPDATE, per row: an update that does not itself write the view and its
  format empties it. Only a public read's fill writes them (over NULL, or over another
  format's), and then the trigger does not fire.
- `timeline`, AFTER INSERT / UPDATE / DELETE, per statement: the reports whose timeline
  changed are updated (view emptied). Even when their view was empty already, the update
  gives the row a new version: a fill checks the row version (`xmin`) it read against the
  current one, so a read that saw the old timeline cannot store its view after the change.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-05
"""

from __future__ import annotations

from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # IF NOT EXISTS: revision 0001 creates `reports` from the current table definition.
    op.execute("ALTER TABLE reports ADD COLUMN IF NOT EXISTS public_view text")
    op.execute("ALTER TABLE reports ADD COLUMN IF NOT EXISTS public_view_format text")
    op.execute(
        """
        CREATE OR REPLACE FUNCTION reports_public_view_stale() RETURNS trigger AS $$
        BEGIN
            NEW.public_view := NULL;
            NEW.public_view_format := NULL;
            RETURN NEW;
        END;
        $$ LANGUAGE plpgsql
        """
    )
    op.execute("DROP TRIGGER IF EXISTS reports_public_view_stale ON reports")
    # The WHEN is evaluated without calling the function: an update of a row with no
    # stored view (the projector's usual case) costs nothing more.
    op.execute(
        "CREATE TRIGGER reports_public_view_stale BEFORE UPDATE ON reports FOR EACH ROW "
        "WHEN (OLD.public_view IS NOT NULL "
        "AND NEW.public_view IS NOT DISTINCT FROM OLD.public_view "
        "AND NEW.public_view_format IS NOT DISTINCT FROM OLD.public_view_format) "
        "EXECUTE FUNCTION reports_public_view_stale()"
    )
    op.execute(
        """
        CREATE OR REPLACE FUNCTION timeline_public_view_stale() RETURNS trigger AS $$
        BEGIN
            UPDATE reports SET public_view = NULL, public_view_format = NULL
            WHERE report_id IN (SELECT DISTINCT report_id FROM changed);
            RETURN NULL;
        END;
        $$ LANGUAGE plpgsql
        """
    )
    # A trigger with a transition table has one event each.
    for event, table in (("INSERT", "NEW"), ("UPDATE", "NEW"), ("DELETE", "OLD")):
        name = f"timeline_public_view_stale_{event.lower()}"
        op.execute(f"DROP TRIGGER IF EXISTS {name} ON timeline")
        op.execute(
            f"CREATE TRIGGER {name} AFTER {event} ON timeline "
            f"REFERENCING {table} TABLE AS changed FOR EACH STATEMENT "
            "EXECUTE FUNCTION timeline_public_view_stale()"
        )


def downgrade() -> None:
    for event in ("insert", "update", "delete"):
        op.execute(f"DROP TRIGGER IF EXISTS timeline_public_view_stale_{event} ON timeline")
    op.execute("DROP FUNCTION IF EXISTS timeline_public_view_stale()")
    op.execute("DROP TRIGGER IF EXISTS reports_public_view_stale ON reports")
    op.execute("DROP FUNCTION IF EXISTS reports_public_view_stale()")
    op.execute("ALTER TABLE reports DROP COLUMN IF EXISTS public_view_format")
    op.execute("ALTER TABLE reports DROP COLUMN IF EXISTS public_view")
