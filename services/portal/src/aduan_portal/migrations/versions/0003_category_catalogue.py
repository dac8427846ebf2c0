"""The portal's copy of the category catalogue (issue 16): filing form, filters and names
come from the gateway's catalogue topic, not from HTTP calls to the gateway.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04
"""

from collections.abc import Sequence

from alembic import op

from aduan_kit.catalogue import create_catalogue_table

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_catalogue_table(op)


def downgrade() -> None:
    op.drop_table("category_catalogue")
