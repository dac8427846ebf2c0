"""Shredding a per-reporter data key on erasure, in the caller's transaction together with
the outbox row it causes, so a key is shredded if and only if ReporterKeyShredded goes out.
(Keys are got or created by `aduan_intake.service.keys.keys_for`, on `adapters.postgres`.)
"""

from __future__ import annotations

from uuid import UUID

from sqlalchemy import func, update
from sqlalchemy.ext.asyncio import AsyncSession

from aduan_contracts.events import ReporterKeyShredded
from aduan_intake.adapters.tables import OUTBOX, REPORTER_KEYS
from aduan_kit.messaging import add_to_outbox

__all__ = ["shred_key"]


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
