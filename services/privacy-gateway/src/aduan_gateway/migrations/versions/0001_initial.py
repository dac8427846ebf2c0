"""Initial gateway schema: messaging tables, report read model, timeline, access log.

Revision ID: 0001
Revises:
Create Date: 2026-01-01
"""

from __future__ import annotations

from alembic import op

from aduan_gateway.adapters.tables import ACCESS_LOG, REPORTS, TIMELINE
from aduan_kit.messaging import create_messaging_tables

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_messaging_tables(op)
    bind = op.get_bind()
    # Created from the table definitions so the migration and the code cannot drift at the
    # first revision; later revisions are explicit alembic operations.
    for table in (REPORTS, TIMELINE, ACCESS_LOG):
        table.create(bind)
    # The access log is append-only for the application role too.
    op.execute(
        """
        CREATE FUNCTION access_log_append_only() RETURNS trigger AS $$
        BEGIN
            RAISE EXCEPTION 'access_log is append-only';
        END;
        $$ LANGUAGE plpgsql
        """
    )
    op.execute(
        "CREATE TRIGGER access_log_no_change BEFORE UPDATE OR DELETE ON access_log "
        "FOR EACH ROW EXECUTE FUNCTION access_log_append_only()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS access_log_no_change ON access_log")
    op.execute("DROP FUNCTION IF EXISTS access_log_append_only()")
    for table in (ACCESS_LOG, TIMELINE, REPORTS):
        table.drop(op.get_bind())
    op.drop_table("inbox")
    op.drop_table("outbox")
