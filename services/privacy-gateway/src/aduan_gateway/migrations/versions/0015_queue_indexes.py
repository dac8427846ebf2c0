"""Queues that hold at 100,000 reports (issue 14): an index per order the console asks for
(newest first and due first, overall, per agency and per status) and trigram indexes for
the text search, measured with `bench/queues.py` (figures in docs/console.md).

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-04
"""

from __future__ import annotations

from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

# IF NOT EXISTS: revision 0001 creates `reports` with the indexes of the current table
# definition (tables.py declares the b-tree ones too).
INDEXES = {
    "ix_reports_received": "(received_at DESC, report_id)",
    "ix_reports_agency_received": "(agency_id, received_at DESC, report_id)",
    "ix_reports_agency_due": "(agency_id, due_at, received_at DESC, report_id)",
    "ix_reports_status_received": "(status, received_at DESC, report_id)",
    "ix_reports_status_due": "(status, due_at, received_at DESC, report_id)",
    # The console's category and area filters, as readmodel._filtered writes them.
    "ix_reports_category": "((coalesce(category, category_hint)), received_at DESC)",
    "ix_reports_area": "((location ->> 'area'), received_at DESC)",
}


def upgrade() -> None:
    for name, columns in INDEXES.items():
        op.execute(f"CREATE INDEX IF NOT EXISTS {name} ON reports {columns}")
    # The ticket-admin's search is a substring match over the officer text (ILIKE
    # '%...%'): only a trigram index serves it. pg_trgm is a trusted extension (PostgreSQL
    # 13+): the database owner may create it.
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.execute(
        "CREATE INDEX IF NOT EXISTS ix_reports_officer_text_trgm "
        "ON reports USING gin (officer_text gin_trgm_ops)"
    )
    op.execute(
        "CREATE INDEX IF NOT EXISTS ix_reports_officer_title_trgm "
        "ON reports USING gin (officer_title gin_trgm_ops)"
    )
    # Superseded by the per-agency orders above.
    op.execute("DROP INDEX IF EXISTS ix_reports_agency")


def downgrade() -> None:
    op.execute("CREATE INDEX IF NOT EXISTS ix_reports_agency ON reports (agency_id)")
    op.execute("DROP INDEX IF EXISTS ix_reports_officer_title_trgm")
    op.execute("DROP INDEX IF EXISTS ix_reports_officer_text_trgm")
    for name in INDEXES:
        op.execute(f"DROP INDEX IF EXISTS {name}")
