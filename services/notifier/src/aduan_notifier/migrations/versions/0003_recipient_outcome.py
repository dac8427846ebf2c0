"""The agency's latest follow-up note per report, told to the reporter on completion.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("recipients", sa.Column("last_outcome", sa.Text, nullable=True))


def downgrade() -> None:
    op.drop_column("recipients", "last_outcome")
