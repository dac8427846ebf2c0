"""SLA clocks, report locations (evidence check), merged reports' primary status.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("reports", sa.Column("primary_status", sa.String(32), nullable=True))
    op.create_index(
        "ix_reports_merged_into",
        "reports",
        ["merged_into"],
        postgresql_where=sa.text("merged_into IS NOT NULL"),
    )
    op.create_table(
        "report_locations",
        sa.Column("report_id", postgresql.UUID(as_uuid=True), primary_key=True),
        sa.Column("lat", sa.Float, nullable=False),
        sa.Column("lon", sa.Float, nullable=False),
    )
    op.create_table(
        "sla_clocks",
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=True),
        sa.Column("report_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("stage", sa.String(32), nullable=False),
        sa.Column("category", sa.String(100), nullable=True),
        sa.Column("agency_id", sa.String(64), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("remind_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reminded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("breached_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index(
        "uq_sla_clocks_running",
        "sla_clocks",
        ["report_id", "stage"],
        unique=True,
        postgresql_where=sa.text("closed_at IS NULL"),
    )
    op.create_index(
        "ix_sla_clocks_remind",
        "sla_clocks",
        ["remind_at"],
        postgresql_where=sa.text("closed_at IS NULL AND reminded_at IS NULL"),
    )
    op.create_index(
        "ix_sla_clocks_due",
        "sla_clocks",
        ["due_at"],
        postgresql_where=sa.text("closed_at IS NULL AND breached_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_table("sla_clocks")
    op.drop_table("report_locations")
    op.drop_index("ix_reports_merged_into", table_name="reports")
    op.drop_column("reports", "primary_status")
