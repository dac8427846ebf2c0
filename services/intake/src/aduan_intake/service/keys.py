"""Reporter keys for filings and amendments: the contact's live key, or a new one announced.

Both run inside the caller's transaction, together with the outbox rows they cause, so a
key is announced (ReporterKeyIssued) if and only if it was stored.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from uuid import uuid4

from aduan_contracts.events import ReporterKeyIssued
from aduan_intake.adapters.stores import KeyStore, Outbox, ReporterKey
from aduan_kit.crypto import new_key

__all__ = ["keys_for"]


def _new_reporter_key() -> ReporterKey:
    return ReporterKey(uuid4(), new_key(), issued=True)


async def keys_for(
    store: KeyStore,
    outbox: Outbox,
    keys_topic: str,
    wanted: Sequence[tuple[bytes | None, str | None]],
) -> list[ReporterKey]:
    """The key for each (contact digest, correlation id) wanted, in order: the contact's live
    key, or a new one announced on the outbox (ReporterKeyIssued, before whatever the caller
    publishes with it). One new key per contact however often it is wanted; a digest None
    ("nobody to recognise later") always gets a fresh key. Set-based: one insert (and at most one
    read) a round, whatever the number wanted. The only way intake gets a reporter key, for a
    group of filings as for one amendment."""
    if not wanted:
        return []
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
        made = await store.add_keys(
            [key.key_id for _, key, _ in batch],
            [digest for digest, _, _ in batch],
            [key.key for _, key, _ in batch],
        )
        for digest, key, cid in batch:
            if key.key_id not in made:
                continue  # the contact has a key already: read below
            issued = ReporterKeyIssued(
                key_id=key.key_id,
                key=base64.b64encode(key.key).decode(),
                **({"correlation_id": cid} if cid else {}),
            )
            outbox.publish(keys_topic, issued, key=key.key_id)
            if digest is not None:
                found[digest] = key
        batch = []
        todo = [d for d in todo if d not in found]
        if not todo:
            break
        # A concurrent shred can clear the row between our conflict and this read; the next
        # round then makes a fresh key, which is what an erased reporter should get.
        found.update(await store.live_keys(todo))
        todo = [d for d in todo if d not in found]
        if not todo:
            break
    else:
        raise RuntimeError("could not get or create a reporter key")
    return [
        found[digest] if digest is not None else fresh[i] for i, (digest, _) in enumerate(wanted)
    ]
