"""The database announces every change of a report to the gateways' report caches
(issue 18; adapters/reportcache.py).

Each gateway process keeps what it read of reports in memory (the public answers, the
rows officers' views are made from), so that a read is not a round trip to PostgreSQL
(most of its CPU). Those are functions of the report's row, its timeline, its escalations
and whether its reporter's key has arrived, so the triggers here announce a change of any
of them as the report's: `NOTIFY aduan_reports_changed` with the ids of the reports a
statement touched (rows of `reports` inserted, updated or deleted; reports of
`escalations` rows; reports of `reporter_keys` rows inserted or deleted), whoever wrote
them (the projector, moderation, an erasure, an operator's fix by hand). A timeline change
writes its report's row too (revisions 0020, 0021), so it is announced with it.
PostgreSQL delivers a notice only when its transaction commits, to every listening
connection: every gateway process evicts those reports.

A public read's own fill of the stored view (`ViewFills`, adapters/publicviews.py) marks
its transaction (`aduan.view_fill`) and sends none: it changes no value anyone reads, and
a notice would throw the fresh entry out again.

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

# The channel is aduan_gateway.adapters.reportcache.CHANNEL (a migration keeps its own text).

_NOTIFY = """
        CREATE OR REPLACE FUNCTION {name}() RETURNS trigger AS $$
        DECLARE
            ids text;
        BEGIN
            IF current_setting('aduan.view_fill', true) = 'on' THEN
                RETURN NULL;
            END IF;
            FOR ids IN
                SELECT string_agg(report_id::text, ',')
                FROM (SELECT report_id, (row_number() OVER () - 1) / 200 AS chunk
                      FROM ({reports}) d) c
                GROUP BY chunk
            LOOP
                PERFORM pg_notify('aduan_reports_changed', ids);
            END LOOP;
            RETURN NULL;
        END;
        $$ LANGUAGE plpgsql
        """
# Which reports a statement touched, from its transition table `changed`.
_OWN = "SELECT DISTINCT report_id FROM changed"
_OF_KEYS = "SELECT report_id FROM reports WHERE reporter_key_id IN (SELECT key_id FROM changed)"
# table -> (function, the reports' query, events)
_TRIGGERS = {
    "reports": ("reports_changed_notify", _OWN, ("INSERT", "UPDATE", "DELETE")),
    "escalations": ("reports_changed_notify", _OWN, ("INSERT", "UPDATE", "DELETE")),
    # Only whether a key row exists is read (`key_row`): a shredded key stays a row.
    "reporter_keys": ("reporter_keys_changed_notify", _OF_KEYS, ("INSERT", "DELETE")),
}


def upgrade() -> None:
    for name, reports in {(f, q) for f, q, _ in _TRIGGERS.values()}:
        op.execute(_NOTIFY.format(name=name, reports=reports))
    for table, (function, _, events) in _TRIGGERS.items():
        # A trigger with a transition table has one event each.
        for event in events:
            rows = "OLD" if event == "DELETE" else "NEW"
            trigger = f"{table}_changed_notify_{event.lower()}"
            op.execute(f"DROP TRIGGER IF EXISTS {trigger} ON {table}")
            op.execute(
                f"CREATE TRIGGER {trigger} AFTER {event} ON {table} "
                f"REFERENCING {rows} TABLE AS changed FOR EACH STATEMENT "
                f"EXECUTE FUNCTION {function}()"
            )


def downgrade() -> None:
    for table, (_, _, events) in _TRIGGERS.items():
        for event in events:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_changed_notify_{event.lower()} ON {table}")
    op.execute("DROP FUNCTION IF EXISTS reports_changed_notify()")
    op.execute("DROP FUNCTION IF EXISTS reporter_keys_changed_notify()")
