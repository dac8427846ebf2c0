"""Identity (agencies, users, refresh tokens), photo grants, reporter keys; follow-ups and
reporter key ids in the read model.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

from __future__ import annotations

from alembic import op

from aduan_gateway.adapters.tables import (
    AGENCIES,
    PHOTO_GRANTS,
    REFRESH_TOKENS,
    REPORTER_KEYS,
    USERS,
)

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # 0001 creates its tables from the current definitions, so on a fresh database these
    # columns and indexes already exist; IF NOT EXISTS makes this revision right for both.
    op.execute("ALTER TABLE reports ADD COLUMN IF NOT EXISTS reporter_key_id uuid")
    op.execute(
        "UPDATE reports SET reporter_key_id = (sealed_identity->>'key_id')::uuid "
        "WHERE sealed_identity IS NOT NULL AND reporter_key_id IS NULL"
    )
    op.execute("CREATE INDEX IF NOT EXISTS ix_reports_receipt_code ON reports (receipt_code)")
    op.execute("CREATE INDEX IF NOT EXISTS ix_reports_reporter_key ON reports (reporter_key_id)")
    op.execute("ALTER TABLE timeline ADD COLUMN IF NOT EXISTS follow_up jsonb")
    op.execute("ALTER TABLE timeline ADD COLUMN IF NOT EXISTS extra jsonb")
    bind = op.get_bind()
    for table in (AGENCIES, USERS, REFRESH_TOKENS, PHOTO_GRANTS, REPORTER_KEYS):
        table.create(bind, checkfirst=True)


def downgrade() -> None:
    bind = op.get_bind()
    for table in (REPORTER_KEYS, PHOTO_GRANTS, REFRESH_TOKENS, USERS, AGENCIES):
        table.drop(bind)
    op.drop_column("timeline", "extra")
    op.drop_column("timeline", "follow_up")
    op.drop_index("ix_reports_reporter_key", "reports")
    op.drop_index("ix_reports_receipt_code", "reports")
    op.drop_column("reports", "reporter_key_id")
