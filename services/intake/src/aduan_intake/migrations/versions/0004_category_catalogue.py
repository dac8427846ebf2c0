"""Intake's copy of the category catalogue (issue 16): the one catalogue the gateway owns,
read from gateway.categories.v1, replaces the category list shipped with intake.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

from aduan_kit.catalogue import create_catalogue_table

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_catalogue_table(op)


def downgrade() -> None:
    op.drop_table("category_catalogue")
