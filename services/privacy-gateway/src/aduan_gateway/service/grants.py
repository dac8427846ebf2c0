"""Photo-access grants (SPEC privacy rule 3): a validator lets a named officer see one
report's photos until a deadline; grants are recorded, listed and revocable.

PostgreSQL is the truth; Redis holds `<prefix>grant:<report>:<grantee>` -> expiry with the
same TTL, so the check on every photo read is one Redis GET. A revoke deletes the Redis key
after the database commit; a Redis miss falls back to the database (and refills the key),
so a lost or flushed cache can only slow a read, never widen access.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID, uuid4

from redis.asyncio import Redis
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from aduan_gateway.adapters.tables import PHOTO_GRANTS

__all__ = ["Grant", "GrantCache", "create_grant", "list_grants", "revoke_grant"]


@dataclass(frozen=True, slots=True)
class Grant:
    grant_id: UUID
    report_id: UUID
    grantee: str
    granted_by: str
    reason: str | None
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    revoked_by: str | None

    def active(self, now: datetime) -> bool:
        return self.revoked_at is None and self.expires_at > now


def _grant(row: object) -> Grant:
    return Grant(**{f: getattr(row, f) for f in Grant.__dataclass_fields__})


async def create_grant(
    session: AsyncSession,
    report_id: UUID,
    grantee: str,
    granted_by: str,
    expires_at: datetime,
    reason: str | None,
) -> Grant:
    row = (
        await session.execute(
            PHOTO_GRANTS.insert()
            .values(
                grant_id=uuid4(),
                report_id=report_id,
                grantee=grantee,
                granted_by=granted_by,
                expires_at=expires_at,
                reason=reason,
            )
            .returning(*PHOTO_GRANTS.c)
        )
    ).one()
    return _grant(row)


async def revoke_grant(
    session: AsyncSession, report_id: UUID, grant_id: UUID, revoked_by: str
) -> Grant | None:
    row = (
        await session.execute(
            update(PHOTO_GRANTS)
            .where(
                PHOTO_GRANTS.c.grant_id == grant_id,
                PHOTO_GRANTS.c.report_id == report_id,
                PHOTO_GRANTS.c.revoked_at.is_(None),
            )
            .values(revoked_at=datetime.now(UTC), revoked_by=revoked_by)
            .returning(*PHOTO_GRANTS.c)
        )
    ).first()
    return _grant(row) if row is not None else None


async def list_grants(session: AsyncSession, report_id: UUID) -> list[Grant]:
    rows = await session.execute(
        select(PHOTO_GRANTS)
        .where(PHOTO_GRANTS.c.report_id == report_id)
        .order_by(PHOTO_GRANTS.c.created_at)
    )
    return [_grant(r) for r in rows]


async def _active_expiry(
    session: AsyncSession | AsyncConnection, report_id: UUID, grantee: str
) -> datetime | None:
    expiry: datetime | None = await session.scalar(
        select(PHOTO_GRANTS.c.expires_at)
        .where(
            PHOTO_GRANTS.c.report_id == report_id,
            PHOTO_GRANTS.c.grantee == grantee,
            PHOTO_GRANTS.c.revoked_at.is_(None),
            PHOTO_GRANTS.c.expires_at > datetime.now(UTC),
        )
        .order_by(PHOTO_GRANTS.c.expires_at.desc())
        .limit(1)
    )
    return expiry


class GrantCache:
    def __init__(self, redis: Redis, prefix: str) -> None:
        self._redis = redis
        self._prefix = prefix

    def _key(self, report_id: UUID, grantee: str) -> str:
        return f"{self._prefix}grant:{report_id}:{grantee}"

    async def remember(self, report_id: UUID, grantee: str, expires_at: datetime) -> None:
        ttl_ms = int((expires_at.timestamp() - time.time()) * 1000)
        if ttl_ms > 0:
            await self._redis.set(
                self._key(report_id, grantee), str(expires_at.timestamp()), px=ttl_ms
            )

    async def forget(self, report_id: UUID, grantee: str) -> None:
        await self._redis.delete(self._key(report_id, grantee))

    async def allowed(
        self, session: AsyncSession | AsyncConnection, report_id: UUID, grantee: str
    ) -> bool:
        return await self._cached(report_id, grantee) or await self._stored(
            session, report_id, grantee
        )

    async def _cached(self, report_id: UUID, grantee: str) -> bool:
        cached = await self._redis.get(self._key(report_id, grantee))
        return cached is not None and float(cached) > time.time()

    async def _stored(
        self, session: AsyncSession | AsyncConnection, report_id: UUID, grantee: str
    ) -> bool:
        expiry = await _active_expiry(session, report_id, grantee)
        if expiry is None:
            return False
        await self.remember(report_id, grantee, expiry)
        return True

    def holder_on(
        self, connect: Callable[[], AbstractAsyncContextManager[AsyncConnection]], grantee: str
    ) -> Callable[[UUID], Awaitable[bool]]:
        """`holder` for a read that has no connection open (its row came from memory):
        Redis first, a connection from `connect` only when Redis does not know."""

        async def holds(report_id: UUID) -> bool:
            if await self._cached(report_id, grantee):
                return True
            async with connect() as conn:
                return await self._stored(conn, report_id, grantee)

        return holds

    def holder(
        self, session: AsyncSession | AsyncConnection, grantee: str
    ) -> Callable[[UUID], Awaitable[bool]]:
        """`allowed` for one reader on one connection, as `OfficerViews.read` asks it."""

        async def holds(report_id: UUID) -> bool:
            return await self.allowed(session, report_id, grantee)

        return holds

    async def refresh_after_revoke(
        self, session: AsyncSession, report_id: UUID, grantee: str
    ) -> None:
        """After a revoke: drop the cached grant, keep access only if another grant of the
        same person is still active."""
        await self.forget(report_id, grantee)
        expiry = await _active_expiry(session, report_id, grantee)
        if expiry is not None:
            await self.remember(report_id, grantee, expiry)
