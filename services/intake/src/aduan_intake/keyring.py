"""Per-reporter data keys in intake's database: get-or-create on filing, shred on erasure.

Both run inside the caller's transaction, together with the outbox rows they cause, so a key
is announced (ReporterKeyIssued) if and only if it was stored, and shredded if and only if
ReporterKeyShredded goes out.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from uuid import UUID, uuid4

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from aduan_contracts.events import ReporterKeyIssued, ReporterKeyShredded
from aduan_intake.tables import OUTBOX, REPORTER_KEYS
from aduan_kit.crypto import new_key
from aduan_kit.messaging import add_to_outbox

__all__ = ["ReporterKey", "get_or_create_key", "shred_key"]


@dataclass(frozen=True, slots=True)
class ReporterKey:
    key_id: UUID
    key: bytes
    issued: bool


async def get_or_create_key(
    session: AsyncSession,
    digest: bytes | None,
    keys_topic: str,
    correlation_id: str | None,
) -> ReporterKey:
    """The reporter's live key (by contact digest), or a new one announced on the outbox.
    `digest` None means "nobody to recognise later": always a fresh key."""
    # A concurrent shred can clear the row between our conflict and our read; trying again
    # then creates a fresh key, which is what an erased reporter should get.
    for _ in range(3):
        key_id, key = uuid4(), new_key()
        stmt = insert(REPORTER_KEYS).values(key_id=key_id, contact_digest=digest, key=key)
        if digest is not None:
            stmt = stmt.on_conflict_do_nothing(index_elements=[REPORTER_KEYS.c.contact_digest])
        created = (await session.execute(stmt.returning(REPORTER_KEYS.c.key_id))).first()
        if created is not None:
            issued = ReporterKeyIssued(
                key_id=key_id,
                key=base64.b64encode(key).decode(),
                **({"correlation_id": correlation_id} if correlation_id else {}),
            )
            await add_to_outbox(session, OUTBOX, keys_topic, issued, key=key_id)
            return ReporterKey(key_id, key, issued=True)
        row = (
            await session.execute(
                select(REPORTER_KEYS.c.key_id, REPORTER_KEYS.c.key).where(
                    REPORTER_KEYS.c.contact_digest == digest,
                    REPORTER_KEYS.c.shredded_at.is_(None),
                )
            )
        ).first()
        if row is not None and row.key is not None:
            return ReporterKey(row.key_id, row.key, issued=False)
    raise RuntimeError("could not get or create a reporter key")


async def shred_key(
    session: AsyncSession,
    key_id: UUID,
    keys_topic: str,
    correlation_id: str,
    causation_id: str,
) -> bool:
    """Delete the key bytes (and the contact digest, so the erased reporter is not
    recognised again) and announce it. False when intake never issued that key."""
    row = (
        await session.execute(
            update(REPORTER_KEYS)
            .where(REPORTER_KEYS.c.key_id == key_id)
            .values(
                key=None,
                contact_digest=None,
                shredded_at=func.coalesce(REPORTER_KEYS.c.shredded_at, func.now()),
            )
            .returning(REPORTER_KEYS.c.key_id)
        )
    ).first()
    if row is None:
        return False
    # Announced again even if already shredded: holders treat it idempotently, and one that
    # missed the first announcement still learns of it (the topic is compacted by key id,
    # so this also replaces the ReporterKeyIssued record that carried the key).
    shredded = ReporterKeyShredded(
        key_id=key_id, correlation_id=correlation_id, causation_id=causation_id
    )
    await add_to_outbox(session, OUTBOX, keys_topic, shredded, key=key_id)
    return True
