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
taken once per batch, for a few milliseconds, however many readers are waiting.
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
from aduan_gateway.adapters.readmodel import ACCESS_LOG_LOCK, append_after, chain_entries
from aduan_gateway.domain.audit import AccessEntry
from aduan_kit.db import engine_of, pooled_connection, raw_transaction
from aduan_kit.logging import get_logger

__all__ = [
    "MAX_BATCH_ENTRIES",
    "SKIP_AFTER_REFUSAL",
    "AccessLog",
    "AccessLogUnavailable",
    "Read",
]

log = get_logger(__name__)

# Entries per transaction. A batch this large is ~1 ms of hashing and one executemany; the
# cap only keeps a backlog (after a database stall) from becoming one huge transaction.
MAX_BATCH_ENTRIES = 2000
# After a linked append was refused, batches written the long way before linking again.
SKIP_AFTER_REFUSAL = 8


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
        # statement (`append_after`); once another writer appended, the long way.
        self._end: str | None = None
        self.batches = {"linked": 0, "locked": 0}  # how each batch was appended
        # Batches to append the long way before linking is tried again: after a refusal
        # another writer (the gateway's other worker) is appending too, and a refused
        # statement would only add a round trip to most batches.
        self._skip_linking = 0

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
            hashes: list[str] | None = None
            if self._skip_linking:
                self._skip_linking -= 1
            elif self._end is not None:
                # Linked to our own last entry in one statement (issue 18: the batch's
                # BEGIN, end-of-chain read and COMMIT were most of an officer read's log).
                async with pooled_connection(self._engine) as conn:
                    hashes = await append_after(conn, entries, self._end)
                if hashes is None:
                    self._skip_linking = SKIP_AFTER_REFUSAL
                else:
                    self.batches["linked"] += 1
            if hashes is None:
                # A raw transaction with the chain's lock in its BEGIN, the end read under
                # it: no ORM session, one round trip fewer than a lock statement.
                async with raw_transaction(self._engine, lock=ACCESS_LOG_LOCK) as conn:
                    hashes = await chain_entries(conn, entries)
                self.batches["locked"] += 1
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
