"""Per-reporter data keys in intake's database: got or created for filings and amendments
(`keys_for`, set-based), shredded on erasure (`shred_key`).

Both run inside the caller's transaction, together with the outbox rows they cause, so a key
is announced (ReporterKeyIssued) if and only if it was stored, and shredded if and only if
ReporterKeyShredded goes out.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass
from uuid import UUID, uuid4

from sqlalchemy import func, update
from sqlalchemy.ext.asyncio import AsyncSession

from aduan_contracts.events import ReporterKeyIssued, ReporterKeyShredded
from aduan_intake.adapters.tables import OUTBOX, REPORTER_KEYS
from aduan_kit.crypto import new_key
from aduan_kit.messaging import add_to_outbox
from aduan_kit.uow import UnitOfWork

__all__ = ["ReporterKey", "keys_for", "shred_key"]


@dataclass(frozen=True, slots=True)
class ReporterKey:
    key_id: UUID
    key: bytes
    issued: bool


# A NULL digest never conflicts (nobody to recognise later: always a fresh key).
_NEW_KEYS = (
    "INSERT INTO reporter_keys (key_id, contact_digest, key)"
    " SELECT * FROM unnest($1::uuid[], $2::bytea[], $3::bytea[])"
    " ON CONFLICT (contact_digest) DO NOTHING RETURNING key_id"
)
_LIVE_KEYS = (
    "SELECT contact_digest, key_id, key FROM reporter_keys"
    " WHERE contact_digest = ANY($1::bytea[]) AND shredded_at IS NULL"
)


def _new_reporter_key() -> ReporterKey:
    return ReporterKey(uuid4(), new_key(), issued=True)


async def keys_for(
    uow: UnitOfWork, keys_topic: str, wanted: Sequence[tuple[bytes | None, str | None]]
) -> list[ReporterKey]:
    """The key for each (contact digest, correlation id) wanted, in order: the contact's live
    key, or a new one announced on the outbox (ReporterKeyIssued, before whatever the caller
    publishes with it). One new key per contact however often it is wanted; a digest None
    ("nobody to recognise later") always gets a fresh key. Set-based on the unit of work's
    connection: one insert (and at most one read) a round, whatever the number wanted. The
    only way intake gets a reporter key, for a group of filings as for one amendment."""
    if not wanted:
        return []
    conn = await uow.connection()
    first: dict[bytes, str | None] = {}  # its correlation id goes on the key's announcement
    for digest, cid in wanted:
        if digest is not None:
            first.setdefault(digest, cid)
    fresh = {i: _new_reporter_key() for i, (digest, _) in enumerate(wanted) if digest is None}
    batch: list[tuple[bytes | None, ReporterKey, str | None]] = [
        (None, fresh[i], wanted[i][1]) for i in fresh
    ]
    found: dict[bytes, ReporterKey] = {}
    # Proposed in digest order: two transactions proposing keys for the same contacts take
    # the unique index's locks in the same order and never deadlock on them.
    todo = sorted(first)
    for _ in range(3):
        batch += [(d, _new_reporter_key(), first[d]) for d in todo]
        made = {
            row[0]
            for row in await conn.fetch(
                _NEW_KEYS,
                [key.key_id for _, key, _ in batch],
                [digest for digest, _, _ in batch],
                [key.key for _, key, _ in batch],
            )
        }
        for digest, key, cid in batch:
            if key.key_id not in made:
                continue  # the contact has a key already: read below
            issued = ReporterKeyIssued(
                key_id=key.key_id,
                key=base64.b64encode(key.key).decode(),
                **({"correlation_id": cid} if cid else {}),
            )
            uow.publish(keys_topic, issued, key=key.key_id)
            if digest is not None:
                found[digest] = key
        batch = []
        todo = [d for d in todo if d not in found]
        if not todo:
            break
        # A concurrent shred can clear the row between our conflict and this read; the next
        # round then makes a fresh key, which is what an erased reporter should get.
        for row in await conn.fetch(_LIVE_KEYS, todo):
            if row[2] is not None:
                found[row[0]] = ReporterKey(row[1], row[2], issued=False)
        todo = [d for d in todo if d not in found]
        if not todo:
            break
    else:
        raise RuntimeError("could not get or create a reporter key")
    return [
        found[digest] if digest is not None else fresh[i] for i, (digest, _) in enumerate(wanted)
    ]


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
