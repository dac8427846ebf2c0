"""Group commit for the access log: every officer read is logged before its data leaves,
without serializing the reads themselves.

Before, each officer read appended its entries inside its own transaction, under the
advisory lock that keeps the hash chain linear: the lock was held from the first append to
the commit's WAL flush, one reader at a time, and a list of 20 reports took 20 appends
(40 statements) under it. At 50 reads/s officers waited ~1 s in that queue, holding pooled
connections the public reads then waited for too.

Now a request computes its view, hands its entries to `AccessLog.record` and waits. One
writer task per process takes everything queued, appends it in one transaction (the same
advisory lock, the last hash read under it, one chained row per entry, in queue order) and
resolves every waiting request only after that transaction committed. So the guarantee is
unchanged — no view is returned before its entries are durable in an intact chain, and a
request whose entries could not be written gets a 503 instead of the data — but the lock is
taken once per batch, for a few milliseconds, however many readers are waiting. (Since
issue 18 a batch is usually one statement linked to a known end of the chain, the lock
taken inside it, and the transaction above only when that cannot be done: `_append`.)
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from aduan_contracts.enums import Role
from aduan_gateway.adapters.readmodel import (
    ACCESS_LOG_LOCK,
    append_after,
    chain_end,
    chain_entries,
)
from aduan_gateway.domain.audit import AccessEntry
from aduan_kit.db import engine_of, pooled_connection, raw_transaction
from aduan_kit.logging import get_logger

__all__ = [
    "CONTENDED_BATCHES",
    "MAX_BATCH_ENTRIES",
    "AccessLog",
    "AccessLogUnavailable",
    "Read",
]

log = get_logger(__name__)

# Entries per transaction. A batch this large is ~1 ms of hashing and one executemany; the
# cap only keeps a backlog (after a database stall) from becoming one huge transaction.
MAX_BATCH_ENTRIES = 2000
# After a linked append was refused (another writer appends too), batches that read the
# chain's end before linking to it, rather than trusting the writer's own last hash.
CONTENDED_BATCHES = 8


class AccessLogUnavailable(Exception):
    """The entries could not be written: the data they describe must not be returned."""


@dataclass(frozen=True, slots=True)
class Read:
    """One report read by the caller, and the fields it carried (rule 7)."""

    report_id: UUID
    fields: tuple[str, ...]


@dataclass(slots=True)
class _Pending:
    subject: str
    role: Role
    agency_id: str | None
    reads: Sequence[Read]
    done: asyncio.Future[list[str]] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class AccessLog:
    """The process's access-log writer (started and stopped with the gateway)."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._engine = engine_of(sessions)
        self._queue: deque[_Pending] = deque()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        # The hash of the last entry this writer committed (None: not known, as at start
        # or after a failure). While it is still the chain's end, the next batch is one
        # statement (`append_after`); once another writer appended, see `_append`.
        self._end: str | None = None
        self.batches = {"linked": 0, "locked": 0}  # how each batch was appended
        # Batches left that read the chain's end before linking: after a refusal another
        # writer (the gateway's other worker) is appending too, so our own last hash is
        # usually stale and linking to it would only add a refused statement.
        self._contended = 0
        self.refused = 0  # links refused because the end had moved

    def start(self) -> None:
        self._closed = False
        self._task = asyncio.create_task(self._run(), name="access-log-writer")

    async def stop(self) -> None:
        """Write what is queued (requests are waiting for it), then end the writer."""
        self._closed = True
        self._wake.set()
        if self._task is not None:
            task, self._task = self._task, None
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def record(
        self, subject: str, role: Role, agency_id: str | None, reads: Sequence[Read]
    ) -> list[str]:
        """Append one entry per read and return their hashes once they are committed.

        Raises `AccessLogUnavailable` when they were not written; the caller must then not
        return the data. A caller cancelled while waiting (the client went away) leaves its
        entries queued: a read logged but never delivered is harmless, the reverse is not.
        """
        if not reads:
            return []
        if self._closed or self._task is None or self._task.done():
            raise AccessLogUnavailable("the access log writer is not running")
        pending = _Pending(subject, role, agency_id, reads)
        self._queue.append(pending)
        self._wake.set()
        return await asyncio.shield(pending.done)

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._queue:
                await self._write(self._take())
            if self._closed:
                return

    def _take(self) -> list[_Pending]:
        """The oldest queued requests, whole, up to about MAX_BATCH_ENTRIES entries."""
        batch: list[_Pending] = []
        size = 0
        while self._queue and (not batch or size + len(self._queue[0].reads) <= MAX_BATCH_ENTRIES):
            pending = self._queue.popleft()
            batch.append(pending)
            size += len(pending.reads)
        return batch

    async def _write(self, batch: list[_Pending]) -> None:
        # One timestamp per batch, taken when it is written (as before, under the lock in
        # effect): entries stay in time order along the chain.
        at = datetime.now(UTC)
        entries = [
            AccessEntry(
                at=at,
                subject=p.subject,
                role=p.role.value,
                agency_id=p.agency_id,
                report_id=r.report_id,
                fields=tuple(sorted(r.fields)),
            )
            for p in batch
            for r in p.reads
        ]
        try:
            hashes = await self._append(entries)
            self._end = hashes[-1]
        except Exception as exc:
            # Every waiting request fails: none of their data is returned. The next batch
            # starts afresh (a database that is back writes it normally), and reads the
            # chain's end again (a commit whose answer was lost may have written it).
            self._end = None
            log.error("access log write failed", entries=len(entries), error=type(exc).__name__)
            failed = AccessLogUnavailable("the access log could not be written")
            for p in batch:
                if not p.done.done():
                    p.done.set_exception(failed)
            return
        start = 0
        for p in batch:
            if not p.done.done():
                p.done.set_result(hashes[start : start + len(p.reads)])
            start += len(p.reads)

    async def _append(self, entries: list[AccessEntry]) -> list[str]:
        """The batch onto the chain, the cheapest way that is safe: one statement linked to
        the hash this writer wrote last while no other writer is seen appending (issue 18:
        a BEGIN, the end's read and a COMMIT were most of an officer read's log); the end
        read first, then the link, while one is (two workers take turns, so their own last
        hashes are stale); under the lock when the chain is empty or the end moved between
        the read and the link. `uq_access_log_prev_hash` refuses any link to an end that
        has a successor by then, so the chain stays linear whichever way is taken."""
        async with pooled_connection(self._engine) as conn:
            if self._end is not None and not self._contended:
                hashes = await append_after(conn, entries, self._end)
                if hashes is not None:
                    self.batches["linked"] += 1
                    return hashes
                self.refused += 1
                self._contended = CONTENDED_BATCHES
            else:
                self._contended = max(0, self._contended - 1)
            end = await chain_end(conn)
            if end is not None:
                hashes = await append_after(conn, entries, end)
                if hashes is not None:
                    self.batches["linked"] += 1
                    return hashes
                self.refused += 1
        # A raw transaction with the chain's lock in its BEGIN, the end read under it: no
        # ORM session, one round trip fewer than a lock statement.
        async with raw_transaction(self._engine, lock=ACCESS_LOG_LOCK) as conn:
            hashes = await chain_entries(conn, entries)
        self.batches["locked"] += 1
        return hashes
