"""Attempts still open (or abandoned by a dead worker), indexed on their own.

The delivery worker's statements are prepared and, after a few runs, PostgreSQL plans them
generically: with the array parameters' sizes unknown and `delivery_attempts` small when
its statistics were taken, it chose hash joins over a sequential scan of every attempt ever
made, several times per claim and outcome (~300 rows read per notification after 300 in
`python -m bench.notifier_io`, growing with the table). The statements now say what they
touch (an attempt with no outcome yet, or one marked abandoned), and this partial index
holds only those few rows, so every plan reads them through it.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_delivery_attempts_open",
        "delivery_attempts",
        ["delivery_id", "attempt"],
        postgresql_where=sa.text("outcome IS NULL OR outcome = 'abandoned'"),
    )


def downgrade() -> None:
    op.drop_index("ix_delivery_attempts_open", "delivery_attempts")
