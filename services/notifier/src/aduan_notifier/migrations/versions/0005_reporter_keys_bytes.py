"""Reporter keys as bytes, in the store every service shares (aduan_kit.keystore).

The notifier kept the keys it received as base64 text and called the arrival `issued_at`;
the gateway kept bytes and `received_at`. Issue 18 folded the two copies of the store into
`aduan_kit.keystore`: this converts the notifier's rows in place (a shredded key's NULL
stays NULL, so tombstones stay tombstones).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("ALTER TABLE reporter_keys ALTER COLUMN key TYPE bytea USING decode(key, 'base64')")
    op.alter_column("reporter_keys", "issued_at", new_column_name="received_at")


def downgrade() -> None:
    op.alter_column("reporter_keys", "received_at", new_column_name="issued_at")
    op.execute("ALTER TABLE reporter_keys ALTER COLUMN key TYPE text USING encode(key, 'base64')")
