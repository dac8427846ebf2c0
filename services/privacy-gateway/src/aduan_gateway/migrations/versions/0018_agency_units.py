"""Agency units (issue 19, decisions D19): agencies form a hierarchy (Dinas -> Suku Dinas
per kota; kecamatan -> kelurahan), each with the areas it covers; a user may head their
unit (then they read its sub-units' reports too); SLA escalations projected from
workflow's reminders and breaches, flagged to the parent unit.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-04
"""

from __future__ import annotations

from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Existing agencies become root units of kind "other" covering no area: every scope
    # stays exactly what it was until an administrator builds the tree.
    op.execute(
        "ALTER TABLE agencies ADD COLUMN IF NOT EXISTS parent_id varchar(64) "
        "REFERENCES agencies (agency_id)"
    )
    op.execute(
        "ALTER TABLE agencies ADD COLUMN IF NOT EXISTS kind varchar(32) NOT NULL DEFAULT 'other'"
    )
    op.execute(
        "ALTER TABLE agencies ADD COLUMN IF NOT EXISTS area_codes jsonb NOT NULL "
        "DEFAULT '[]'::jsonb"
    )
    op.execute(
        "ALTER TABLE users ADD COLUMN IF NOT EXISTS unit_head boolean NOT NULL DEFAULT false"
    )
    op.execute(
        """
        CREATE TABLE IF NOT EXISTS escalations (
            report_id uuid NOT NULL,
            kind varchar(16) NOT NULL,
            stage varchar(32) NOT NULL,
            due_at timestamptz NOT NULL,
            from_unit varchar(64),
            to_unit varchar(64),
            after_version integer NOT NULL,
            note text NOT NULL,
            at timestamptz NOT NULL,
            PRIMARY KEY (report_id, kind, stage, due_at)
        )
        """
    )
    op.execute("CREATE INDEX IF NOT EXISTS ix_escalations_to_unit ON escalations (to_unit)")


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS escalations")
    op.execute("ALTER TABLE users DROP COLUMN IF EXISTS unit_head")
    op.execute("ALTER TABLE agencies DROP COLUMN IF EXISTS area_codes")
    op.execute("ALTER TABLE agencies DROP COLUMN IF EXISTS kind")
    op.execute("ALTER TABLE agencies DROP COLUMN IF EXISTS parent_id")
