"""The database announces every change of a report to the gateways' public caches
(issue 18; adapters/publiccache.py).

Each gateway process keeps the public views it answered in memory, so that a citizen's
read is not a round trip to PostgreSQL (most of its CPU). What the public sees of a report
is a function of its row and its timeline, and every timeline change writes the row too
(revisions 0020, 0021), so a notice per changed `reports` row is enough: statement
triggers send `NOTIFY aduan_reports_changed` with the ids the statement touched (inserted,
updated or deleted), whoever wrote them (the projector, moderation, an erasure, an
operator's fix by hand). PostgreSQL delivers a notice only when its transaction commits,
to every listening connection: every gateway process evicts those reports.

A public read's own fill of the stored view (`ViewFills`, adapters/publicviews.py) marks
its transaction (`aduan.view_fill`) and sends none: it changes no value the public sees,
and a notice would throw the fresh entry out again.

Notices carry at most 200 ids (PostgreSQL's payload limit is 8,000 bytes); a statement
that touched more sends several.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-06
"""

from __future__ import annotations

from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None

# The channel: aduan_gateway.adapters.publiccache.CHANNEL (a migration keeps its own text).


def upgrade() -> None:
    op.execute(
        """
        CREATE OR REPLACE FUNCTION reports_changed_notify() RETURNS trigger AS $$
        DECLARE
            ids text;
        BEGIN
            IF current_setting('aduan.view_fill', true) = 'on' THEN
                RETURN NULL;
            END IF;
            FOR ids IN
                SELECT string_agg(report_id::text, ',')
                FROM (SELECT report_id, (row_number() OVER () - 1) / 200 AS chunk
                      FROM (SELECT DISTINCT report_id FROM changed) d) c
                GROUP BY chunk
            LOOP
                PERFORM pg_notify('aduan_reports_changed', ids);
            END LOOP;
            RETURN NULL;
        END;
        $$ LANGUAGE plpgsql
        """
    )
    # A trigger with a transition table has one event each.
    for event, table in (("INSERT", "NEW"), ("UPDATE", "NEW"), ("DELETE", "OLD")):
        name = f"reports_changed_notify_{event.lower()}"
        op.execute(f"DROP TRIGGER IF EXISTS {name} ON reports")
        op.execute(
            f"CREATE TRIGGER {name} AFTER {event} ON reports "
            f"REFERENCING {table} TABLE AS changed FOR EACH STATEMENT "
            "EXECUTE FUNCTION reports_changed_notify()"
        )


def downgrade() -> None:
    for event in ("insert", "update", "delete"):
        op.execute(f"DROP TRIGGER IF EXISTS reports_changed_notify_{event} ON reports")
    op.execute("DROP FUNCTION IF EXISTS reports_changed_notify()")
