"""Erasure: a reporter's key is shredded, so every sealed copy of their identity (the Kafka
log included) becomes unreadable, and every holder is told (ReporterKeyShredded)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from aduan_contracts.events import ReporterErasureRequested
from aduan_intake.adapters.keyring import shred_key
from aduan_kit.logging import get_logger

__all__ = ["erase_reporter"]

log = get_logger(__name__)


async def erase_reporter(
    session: AsyncSession, event: ReporterErasureRequested, keys_topic: str
) -> bool:
    """Shred the key named; False when intake never issued it."""
    known = await shred_key(
        session,
        event.key_id,
        keys_topic,
        correlation_id=event.correlation_id,
        causation_id=str(event.event_id),
    )
    if known:
        log.info("reporter key shredded", key_id=str(event.key_id))
    else:
        log.warning("erasure for a key intake never issued", key_id=str(event.key_id))
    return known
