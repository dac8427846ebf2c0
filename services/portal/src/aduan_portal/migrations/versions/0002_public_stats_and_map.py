"""Public read model: time to completion (statistics) and the coarse map point.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("public_reports", sa.Column("completed_hours", sa.Float, nullable=True))
    op.add_column("public_reports", sa.Column("coarse_lat", sa.Float, nullable=True))
    op.add_column("public_reports", sa.Column("coarse_lon", sa.Float, nullable=True))
    # The public filters: category, agency, status, month range.
    op.create_index("ix_public_reports_month", "public_reports", ["month"])
    op.create_index("ix_public_reports_category", "public_reports", ["category"])
    op.create_index("ix_public_reports_agency_id", "public_reports", ["agency_id"])


def downgrade() -> None:
    op.drop_index("ix_public_reports_agency_id", "public_reports")
    op.drop_index("ix_public_reports_category", "public_reports")
    op.drop_index("ix_public_reports_month", "public_reports")
    op.drop_column("public_reports", "coarse_lon")
    op.drop_column("public_reports", "coarse_lat")
    op.drop_column("public_reports", "completed_hours")
