"""The text search's trigram indexes on a table of their own (issue 18).

The ticket-admin's substring search (ILIKE '%...%' over the officer title and text) needs
trigram indexes, and they sat on `reports`. Every status change writes a new version of a
report's row, and the status columns are indexed (the queues), so no change is a HOT
update: each one inserted every trigram of the report's title and text into the two GIN
indexes again, although the text had not changed. Measured on a bench database (3,610
reports, 92-character texts, 2,000-row status updates): 0.11-0.14 PostgreSQL ms a row
version with the trigram indexes, 0.06 without. A complaint's row is written once per
step of its life (received, dispatched, in progress, awaiting validation, completed...),
so the text's trigrams were indexed five to eight times over.

`report_search` holds the two texts once per report, with the trigram indexes; a row
trigger on `reports` keeps it equal to the row's officer title and text, so every writer
of those columns (the projector's content upsert, the re-scrub when the reporter's key or
an erasure arrives, an operator's fix) is followed without knowing of it. The trigger
fires only when those columns are written and changed: a status change never does.

Their pending lists are kept short (`gin_pending_list_limit` 256 kB, not 4 MB): the
planner prices a GIN scan with its unmerged entries in it, and on this narrow table a full
4 MB list made it choose a sequential scan (`bench.queues`, 100,000 reports filled through
the trigger: 142 ms by the scan, 6.4 ms by the indexes). Merging a short list more often
costs about what one long merge did; taking every row straight into the tree
(`fastupdate = off`) cost 0.6 ms a report. Measured on that bench database, 2,000 rows a
statement (PostgreSQL ms a row): a report's first write 0.06-0.08 -> 0.09-0.10 (the copy
and its merges, which used to wait for a vacuum), each status change 0.08-0.14 -> 0.04-0.06.

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import op

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE report_search (
            report_id uuid PRIMARY KEY REFERENCES reports (report_id) ON DELETE CASCADE,
            officer_title text,
            officer_text text
        )
        """
    )
    op.execute(
        "INSERT INTO report_search (report_id, officer_title, officer_text) "
        "SELECT report_id, officer_title, officer_text FROM reports "
        "WHERE officer_title IS NOT NULL OR officer_text IS NOT NULL"
    )
    op.execute(
        "CREATE INDEX ix_report_search_text_trgm "
        "ON report_search USING gin (officer_text gin_trgm_ops) "
        "WITH (gin_pending_list_limit = 256)"
    )
    op.execute(
        "CREATE INDEX ix_report_search_title_trgm "
        "ON report_search USING gin (officer_title gin_trgm_ops) "
        "WITH (gin_pending_list_limit = 256)"
    )
    op.execute("DROP INDEX IF EXISTS ix_reports_officer_text_trgm")
    op.execute("DROP INDEX IF EXISTS ix_reports_officer_title_trgm")
    op.execute(
        """
        CREATE FUNCTION report_search_follow() RETURNS trigger AS $$
        BEGIN
            INSERT INTO report_search (report_id, officer_title, officer_text)
            VALUES (NEW.report_id, NEW.officer_title, NEW.officer_text)
            ON CONFLICT (report_id) DO UPDATE
            SET officer_title = EXCLUDED.officer_title, officer_text = EXCLUDED.officer_text;
            RETURN NULL;
        END;
        $$ LANGUAGE plpgsql
        """
    )
    op.execute(
        "CREATE TRIGGER report_search_on_insert AFTER INSERT ON reports FOR EACH ROW "
        "WHEN (NEW.officer_title IS NOT NULL OR NEW.officer_text IS NOT NULL) "
        "EXECUTE FUNCTION report_search_follow()"
    )
    op.execute(
        "CREATE TRIGGER report_search_on_update "
        "AFTER UPDATE OF officer_title, officer_text ON reports FOR EACH ROW "
        "WHEN (NEW.officer_title IS DISTINCT FROM OLD.officer_title "
        "OR NEW.officer_text IS DISTINCT FROM OLD.officer_text) "
        "EXECUTE FUNCTION report_search_follow()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS report_search_on_update ON reports")
    op.execute("DROP TRIGGER IF EXISTS report_search_on_insert ON reports")
    op.execute("DROP FUNCTION IF EXISTS report_search_follow()")
    op.execute(
        "CREATE INDEX IF NOT EXISTS ix_reports_officer_text_trgm "
        "ON reports USING gin (officer_text gin_trgm_ops)"
    )
    op.execute(
        "CREATE INDEX IF NOT EXISTS ix_reports_officer_title_trgm "
        "ON reports USING gin (officer_title gin_trgm_ops)"
    )
    op.execute("DROP TABLE IF EXISTS report_search")
