"""The reporter keys a service received from intake, one store for every service that keeps
them (the gateway and the notifier; issue 18's fold-in: the two copies had drifted, one kept
the key as bytes, the other as base64 text).

Intake issues one data key per reporter (`ReporterKeyIssued`, the key base64 in the event)
and shreds it when the reporter asks to be erased (`ReporterKeyShredded`). A service that
opens sealed identities keeps the keys it received in `reporter_keys`:

- a key is stored once; a redelivered or replayed "issued" never brings a shredded key back
  (the insert does nothing on conflict);
- shredding destroys the key bytes but keeps the row as a tombstone (`key` NULL,
  `shredded_at` set), so an identity sealed under it that arrives later is known to be
  erased rather than "key not here yet". A "shredded" that arrives before its "issued"
  writes the tombstone first, and the late "issued" then changes nothing.

The statements are constant SQL on the unit of work's asyncpg connection (prepared once per
connection), one per batch whatever its size.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping
from uuid import UUID

import asyncpg
from sqlalchemy import Column, DateTime, LargeBinary, MetaData, Table, func
from sqlalchemy.dialects.postgresql import UUID as PgUUID

from aduan_contracts.events import ReporterKeyIssued

__all__ = [
    "add_keys",
    "key_bytes",
    "key_states",
    "reporter_keys_table",
    "shred_keys",
    "shredded_among",
]


def reporter_keys_table(metadata: MetaData) -> Table:
    """`reporter_keys` in `metadata` (the same columns in every service)."""
    return Table(
        "reporter_keys",
        metadata,
        Column("key_id", PgUUID(as_uuid=True), primary_key=True),
        # NULL once shredded: the row stays so a report replayed later is known to be erased.
        Column("key", LargeBinary, nullable=True),
        Column("received_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        Column("shredded_at", DateTime(timezone=True), nullable=True),
    )


def key_bytes(event: ReporterKeyIssued) -> bytes:
    """The key an "issued" event carries (base64 on the wire)."""
    return base64.b64decode(event.key)


# Do nothing on conflict: a redelivered issue must never bring back a shredded key.
_ADD = (
    "INSERT INTO reporter_keys (key_id, key) SELECT * FROM unnest($1::uuid[], $2::bytea[]) "
    "ON CONFLICT DO NOTHING"
)
_SHRED = (
    "INSERT INTO reporter_keys (key_id, key, shredded_at) "
    "SELECT k, NULL, now() FROM unnest($1::uuid[]) AS u(k) "
    "ON CONFLICT (key_id) DO UPDATE SET key = NULL, shredded_at = now()"
)
_STATES = "SELECT key_id, key FROM reporter_keys WHERE key_id = ANY($1::uuid[])"
_SHREDDED = (
    "SELECT key_id FROM reporter_keys WHERE key_id = ANY($1::uuid[]) AND shredded_at IS NOT NULL"
)


async def add_keys(conn: asyncpg.Connection, keys: Mapping[UUID, bytes]) -> None:
    """Store keys not seen before (a tombstone stays a tombstone)."""
    if keys:
        await conn.execute(_ADD, list(keys), list(keys.values()))


async def shred_keys(conn: asyncpg.Connection, key_ids: Iterable[UUID]) -> None:
    """Destroy these keys' bytes; their rows stay as tombstones (written if missing)."""
    ids = list(dict.fromkeys(key_ids))
    if ids:
        await conn.execute(_SHRED, ids)


async def key_states(conn: asyncpg.Connection, key_ids: Iterable[UUID]) -> dict[UUID, bytes | None]:
    """Per key id found: its bytes, or None when it was shredded. A key not received yet is
    absent from the result."""
    ids = list(dict.fromkeys(key_ids))
    if not ids:
        return {}
    return {r["key_id"]: r["key"] for r in await conn.fetch(_STATES, ids)}


async def shredded_among(conn: asyncpg.Connection, key_ids: Iterable[UUID]) -> set[UUID]:
    """Which of these keys were shredded."""
    ids = list(dict.fromkeys(key_ids))
    if not ids:
        return set()
    return {r["key_id"] for r in await conn.fetch(_SHREDDED, ids)}
