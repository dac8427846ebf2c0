"""The access log's chain as `chain_entries` writes it, batch after batch, must be the chain
the auditor's check (`domain.audit.chain_hash`, `verify_access_log`) computes from nothing:
the same hashes, linked in order, the rows' columns as the entries said, for text that is
not ASCII, an agency or none, a time with no microseconds; and an edited row breaks it at
that row. (Issue 18 tried having PostgreSQL hash the chain in one statement: cheaper for the
gateway, dearer for PostgreSQL, not kept; docs/performance.md, eleventh step.)"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest
from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from aduan_gateway.adapters.readmodel import (
    ACCESS_LOG_LOCK,
    chain_entries,
    verify_access_log,
)
from aduan_gateway.adapters.tables import ACCESS_LOG
from aduan_gateway.domain.audit import AccessEntry, chain_hash
from aduan_kit.db import make_sessionmaker, raw_transaction

pytestmark = pytest.mark.integration

T0 = datetime(2026, 12, 6, 1, 0, tzinfo=UTC)


def _entries(n: int, start: int) -> list[AccessEntry]:
    subjects = ("validator-1", "petugas-Ñandú", "oidc:siti@dinas", "u-许")
    agencies = (None, "dinas-bina-marga", "kel-gambir")
    return [
        AccessEntry(
            # Whole seconds now and then: isoformat then drops the microseconds.
            at=T0 + timedelta(seconds=start + i, microseconds=0 if i % 3 == 0 else 1000 + i),
            subject=subjects[i % len(subjects)],
            role=("validator", "agency_officer", "ticket_admin")[i % 3],
            agency_id=agencies[i % len(agencies)],
            report_id=uuid4(),
            fields=tuple(sorted({"title", "status", ("text", "reasons", "timeline")[i % 3]})),
        )
        for i in range(n)
    ]


async def _chain(engine: AsyncEngine, entries: list[AccessEntry]) -> list[str]:
    async with raw_transaction(engine, lock=ACCESS_LOG_LOCK) as conn:
        return await chain_entries(conn, entries)


async def test_the_database_writes_the_chain_the_auditor_computes(engine: AsyncEngine) -> None:
    sessions: async_sessionmaker[AsyncSession] = make_sessionmaker(engine)
    written: list[AccessEntry] = []
    hashes: list[str] = []
    for size in (1, 5, 1, 40, 2):  # batches of one, as most are, and larger ones
        batch = _entries(size, len(written))
        hashes += await _chain(engine, batch)
        written += batch
    # The auditor's hashes, computed here entry by entry from nothing.
    expected: list[str] = []
    previous: str | None = None
    for entry in written:
        previous = chain_hash(previous, entry)
        expected.append(previous)
    assert hashes == expected
    async with sessions() as session:
        assert await verify_access_log(session) == (len(written), None)
        rows = (await session.execute(select(ACCESS_LOG).order_by(ACCESS_LOG.c.id))).all()
    got = [
        AccessEntry(
            at=r.at,
            subject=r.subject,
            role=r.role,
            agency_id=r.agency_id,
            report_id=r.report_id,
            fields=tuple(r.fields),
        )
        for r in rows
    ]
    assert got == written
    assert [r.prev_hash for r in rows] == [None, *expected[:-1]]
    assert await _chain(engine, []) == []


async def test_a_changed_row_breaks_the_chain_from_there(engine: AsyncEngine) -> None:
    """The check catches a row altered after it was written, at that row."""
    sessions: async_sessionmaker[AsyncSession] = make_sessionmaker(engine)
    await _chain(engine, _entries(6, 0))
    async with sessions() as session:
        third = (
            await session.execute(
                select(ACCESS_LOG.c.id).order_by(ACCESS_LOG.c.id).offset(2).limit(1)
            )
        ).scalar_one()
        # Past the table's own guard, as someone with the database's keys could.
        await session.execute(text("ALTER TABLE access_log DISABLE TRIGGER access_log_no_change"))
        await session.execute(
            update(ACCESS_LOG).where(ACCESS_LOG.c.id == third).values(subject="someone-else")
        )
        await session.commit()
        assert await verify_access_log(session) == (2, third)
