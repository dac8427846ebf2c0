"""The SLA scanner: fires the clocks (started and stopped with each step by
`service.recording`) by queueing `SlaReminderDue`/`SlaBreached` in the outbox.

Exactly once: a clock's `reminded_at`/`breached_at` is set in the same transaction that
queues its event, and the event id is derived from the clock id, so neither a rerun nor a
second replica emits it again. Only one replica scans at a time: a scan runs under a
transaction-scoped PostgreSQL advisory lock, and a replica that does not get it skips the
round (another one is doing the work).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import datetime
from typing import Literal
from uuid import NAMESPACE_URL, UUID, uuid5

from sqlalchemy import ColumnElement, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from aduan_contracts.enums import SlaStage
from aduan_contracts.envelope import utcnow
from aduan_contracts.events import SlaBreached, SlaReminderDue
from aduan_kit.db import transaction
from aduan_kit.logging import get_logger
from aduan_kit.messaging import add_to_outbox
from aduan_workflow.adapters.tables import OUTBOX, SLA_CLOCKS

__all__ = ["SCANNER_LOCK_KEY", "SlaScanner", "sla_event_id"]

log = get_logger(__name__)

SCANNER_LOCK_KEY = 4_242_001
"""pg advisory lock key of the SLA scanner (one per database, so one per deployment)."""

_EVENT_NS = uuid5(NAMESPACE_URL, "urn:aduan:workflow:sla")


def sla_event_id(clock_id: int, kind: Literal["reminder", "breach"]) -> UUID:
    """Stable per clock and kind: a consumer's inbox drops a copy even if one ever escaped."""
    return uuid5(_EVENT_NS, f"{clock_id}:{kind}")


class SlaScanner:
    """Fires due reminders and breaches; `scan_once` is one round, `start` runs it every
    `interval_s` until `stop`."""

    def __init__(
        self,
        sessions: Callable[[], async_sessionmaker[AsyncSession]],
        topic: str,
        interval_s: float,
        batch: int,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._sessions = sessions
        self._topic = topic
        self._interval = interval_s
        self._batch = batch
        self._clock = clock
        self._task: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()

    async def scan_once(self, now: datetime | None = None) -> tuple[int, int] | None:
        """(reminders, breaches) queued; None when another replica holds the lock."""
        now = now or self._clock()
        async with transaction(self._sessions()) as session:
            locked = await session.scalar(
                text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": SCANNER_LOCK_KEY}
            )
            if not locked:
                return None
            # A clock overdue without a reminder gets only the breach: a reminder after the
            # deadline would tell nobody anything.
            breaches = await self._fire(
                session,
                "breach",
                [SLA_CLOCKS.c.due_at <= now],
                SLA_CLOCKS.c.due_at,
                SLA_CLOCKS.c.breached_at,
                now,
            )
            reminders = await self._fire(
                session,
                "reminder",
                [
                    SLA_CLOCKS.c.reminded_at.is_(None),
                    SLA_CLOCKS.c.remind_at <= now,
                    SLA_CLOCKS.c.due_at > now,
                ],
                SLA_CLOCKS.c.remind_at,
                SLA_CLOCKS.c.reminded_at,
                now,
            )
        if breaches or reminders:
            # The commit wakes the relay (runtime sessions: aduan_kit.messaging).
            log.info("sla clocks fired", reminders=reminders, breaches=breaches)
        return reminders, breaches

    async def _fire(
        self,
        session: AsyncSession,
        kind: Literal["reminder", "breach"],
        due: list[ColumnElement[bool]],
        order: ColumnElement[datetime],
        fired: ColumnElement[datetime | None],
        now: datetime,
    ) -> int:
        """Queue the event of up to `batch` open, unbreached clocks that are `due` (in
        `order`) and mark them `fired` in the same transaction; how many."""
        rows = (
            await session.execute(
                select(SLA_CLOCKS)
                .where(
                    SLA_CLOCKS.c.closed_at.is_(None),
                    SLA_CLOCKS.c.breached_at.is_(None),
                    *due,
                )
                .order_by(order)
                .limit(self._batch)
                .with_for_update(skip_locked=True)
            )
        ).all()
        event = SlaBreached if kind == "breach" else SlaReminderDue
        for row in rows:
            await add_to_outbox(
                session,
                OUTBOX,
                self._topic,
                event(
                    event_id=sla_event_id(row.id, kind),
                    occurred_at=now,
                    report_id=row.report_id,
                    stage=SlaStage(row.stage),
                    due_at=row.due_at,
                    agency_id=row.agency_id,
                ),
                key=row.report_id,
            )
        if rows:
            await session.execute(
                SLA_CLOCKS.update()
                .where(SLA_CLOCKS.c.id.in_([r.id for r in rows]))
                .values({fired: now})
            )
        return len(rows)

    async def run(self) -> None:
        while not self._stop.is_set():
            try:
                await self.scan_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # database away: try again next round
                log.warning("sla scan failed; will retry", error=type(exc).__name__)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), timeout=self._interval)

    def start(self) -> None:
        self._stop.clear()
        self._task = asyncio.create_task(self.run(), name="sla-scanner")

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            try:
                await asyncio.wait_for(self._task, timeout=5)
            except TimeoutError:
                self._task.cancel()
            self._task = None
