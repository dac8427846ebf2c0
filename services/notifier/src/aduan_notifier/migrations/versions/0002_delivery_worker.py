"""Delivery worker: states, leases, retries, attempts, inbound times for chat windows.

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

STATES = "('pending', 'sending', 'sent', 'failed', 'skipped')"


def upgrade() -> None:
    op.drop_constraint("ck_deliveries_state", "deliveries", type_="check")
    # The skeleton's 'recorded' rows were never sent: they are pending now.
    op.execute("UPDATE deliveries SET state = 'pending', attempts = 0 WHERE state = 'recorded'")
    op.create_check_constraint("ck_deliveries_state", "deliveries", f"state IN {STATES}")
    tz = sa.DateTime(timezone=True)
    op.add_column("deliveries", sa.Column("reason", sa.Text, nullable=True))
    op.add_column("deliveries", sa.Column("status_changed_at", tz, nullable=True))
    op.add_column(
        "deliveries",
        sa.Column("next_attempt_at", tz, nullable=False, server_default=sa.func.now()),
    )
    op.add_column("deliveries", sa.Column("lease_until", tz, nullable=True))
    op.add_column("deliveries", sa.Column("transport", sa.String(16), nullable=True))
    op.add_column("deliveries", sa.Column("provider_message_id", sa.String(256), nullable=True))
    op.add_column("deliveries", sa.Column("last_error", sa.String(1000), nullable=True))
    op.add_column("deliveries", sa.Column("finished_at", tz, nullable=True))
    op.create_index(
        "ix_deliveries_due",
        "deliveries",
        ["next_attempt_at"],
        postgresql_where=sa.text("state IN ('pending', 'sending')"),
    )
    op.create_index(
        "ix_deliveries_failed",
        "deliveries",
        ["finished_at"],
        postgresql_where=sa.text("state = 'failed'"),
    )
    op.create_table(
        "delivery_attempts",
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=True),
        sa.Column(
            "delivery_id",
            sa.BigInteger,
            sa.ForeignKey("deliveries.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("attempt", sa.Integer, nullable=False),
        sa.Column("transport", sa.String(16), nullable=True),
        sa.Column("started_at", tz, nullable=False, server_default=sa.func.now()),
        sa.Column("finished_at", tz, nullable=True),
        sa.Column("outcome", sa.String(16), nullable=True),
        sa.Column("error", sa.String(1000), nullable=True),
        sa.UniqueConstraint("delivery_id", "attempt", name="uq_delivery_attempts"),
    )
    op.add_column("recipients", sa.Column("last_inbound_at", tz, nullable=True))


def downgrade() -> None:
    op.drop_column("recipients", "last_inbound_at")
    op.drop_table("delivery_attempts")
    op.drop_index("ix_deliveries_failed", "deliveries")
    op.drop_index("ix_deliveries_due", "deliveries")
    for column in (
        "finished_at",
        "last_error",
        "provider_message_id",
        "transport",
        "lease_until",
        "next_attempt_at",
        "status_changed_at",
        "reason",
    ):
        op.drop_column("deliveries", column)
    op.drop_constraint("ck_deliveries_state", "deliveries", type_="check")
    op.execute("UPDATE deliveries SET state = 'recorded' WHERE state IN ('pending', 'sending')")
    op.execute("UPDATE deliveries SET state = 'failed' WHERE state = 'skipped'")
    op.create_check_constraint(
        "ck_deliveries_state", "deliveries", "state IN ('recorded', 'sent', 'failed')"
    )
