"""One category catalogue (issue 16): descriptions, keywords, group, active/retired and a
version per category, published on gateway.categories.v1.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-04
"""

from __future__ import annotations

from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

_COLUMNS = (
    "description_id text NOT NULL DEFAULT ''",
    "description_en text NOT NULL DEFAULT ''",
    "keywords jsonb NOT NULL DEFAULT '[]'::jsonb",
    "category_group varchar(100)",
    "active boolean NOT NULL DEFAULT true",
    "version integer NOT NULL DEFAULT 1",
    "updated_by varchar(128)",
)


def upgrade() -> None:
    # IF NOT EXISTS: revision 0004 creates `categories` from the current table definition.
    for column in _COLUMNS:
        op.execute(f"ALTER TABLE categories ADD COLUMN IF NOT EXISTS {column}")
    # Existing categories reach the topic through the gateway's start-up republish.


def downgrade() -> None:
    for column in reversed(_COLUMNS):
        op.execute(f"ALTER TABLE categories DROP COLUMN IF EXISTS {column.split()[0]}")
