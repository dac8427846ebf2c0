"""Routing from the one category catalogue (issue 16): workflow keeps a copy of the
gateway's catalogue topic instead of a routing table fed by routing commands.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from aduan_kit.catalogue import create_catalogue_table

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_catalogue_table(op)
    # The rules came from the gateway's catalogue; its start-up republish refills the copy.
    op.drop_table("routing_rules")


def downgrade() -> None:
    op.create_table(
        "routing_rules",
        sa.Column("category", sa.String(100), primary_key=True),
        sa.Column("agency_id", sa.String(64), nullable=False),
    )
    op.drop_table("category_catalogue")
