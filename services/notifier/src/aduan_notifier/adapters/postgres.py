"""The notifier's stores on PostgreSQL: one prepared asyncpg statement per call, on the unit
of work's own transaction (`await uow.connection()`).

SQL strings are constants (asyncpg prepares and caches each per connection); a batch's
values travel as arrays and are expanded with `unnest`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from uuid import UUID

from aduan_contracts.events import ReportStatusChanged
from aduan_kit.uow import UnitOfWork
from aduan_notifier.adapters.stores import NewDelivery, Recipient

__all__ = ["REPORT_LOCK_SPACE", "PgStatusStore"]

# Advisory-lock space for "one transaction per report at a time" (the outbox relay's lock is
# a single 64-bit key, a separate space). The same as `handlers.lock_report`'s.
REPORT_LOCK_SPACE = 7201

# The locks in the order of the sorted subquery (an aggregate over an ordered subquery takes
# them one by one in that order), so two batches never take two locks in opposite orders.
_LOCK = (
    "SELECT count(pg_advisory_xact_lock(7201, hashtext(r))) "
    "FROM (SELECT r FROM unnest($1::text[]) AS u(r) ORDER BY r) AS s"
)

# A missing identity is stored as JSON null (SQLAlchemy's JSONB default), not SQL NULL.
_RECIPIENTS = (
    "SELECT report_id, channel, language, receipt_code, "
    "coalesce(jsonb_typeof(sealed_identity), 'null') <> 'null' AS has_identity, "
    "erased_at IS NOT NULL AS erased, "
    "last_outcome FROM recipients WHERE report_id = ANY($1::uuid[])"
)

_PARK = (
    "INSERT INTO pending_notifications (status_event_id, report_id, event) "
    "SELECT s, r, e::jsonb FROM unnest($1::uuid[], $2::uuid[], $3::text[]) AS u(s, r, e) "
    "ON CONFLICT DO NOTHING"
)

_OUTCOMES = (
    "UPDATE recipients AS r SET last_outcome = u.o "
    "FROM unnest($1::uuid[], $2::text[]) AS u(id, o) WHERE r.report_id = u.id"
)

# In the batch's order (ids, and so the worker's claim order, follow it).
_RECORD = (
    "INSERT INTO deliveries (report_id, status_event_id, channel, template, language, "
    "receipt_code, subject, body, reason, status_changed_at, state, attempts) "
    "SELECT r, s, c, t, l, rc, sub, b, re, at, 'pending', 0 FROM unnest("
    "$1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], "
    "$8::text[], $9::text[], $10::timestamptz[]) WITH ORDINALITY "
    "AS u(r, s, c, t, l, rc, sub, b, re, at, n) ORDER BY n "
    "ON CONFLICT (status_event_id, channel) DO NOTHING RETURNING status_event_id, channel"
)


class PgStatusStore:
    """`StatusStore` on the unit of work's transaction."""

    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow

    async def lock_reports(self, report_ids: Sequence[UUID]) -> None:
        if not report_ids:
            return
        conn = await self.uow.connection()
        await conn.fetchval(_LOCK, sorted({str(r) for r in report_ids}))

    async def recipients(self, report_ids: Sequence[UUID]) -> dict[UUID, Recipient]:
        if not report_ids:
            return {}
        conn = await self.uow.connection()
        rows = await conn.fetch(_RECIPIENTS, list(set(report_ids)))
        return {
            r["report_id"]: Recipient(
                report_id=r["report_id"],
                channel=r["channel"],
                language=r["language"],
                receipt_code=r["receipt_code"],
                has_identity=r["has_identity"],
                erased=r["erased"],
                last_outcome=r["last_outcome"],
            )
            for r in rows
        }

    async def park(self, events: Sequence[ReportStatusChanged]) -> None:
        if not events:
            return
        conn = await self.uow.connection()
        await conn.execute(
            _PARK,
            [e.event_id for e in events],
            [e.report_id for e in events],
            [e.model_dump_json() for e in events],
        )

    async def keep_outcomes(self, outcomes: Mapping[UUID, str]) -> None:
        if not outcomes:
            return
        conn = await self.uow.connection()
        await conn.execute(_OUTCOMES, list(outcomes), list(outcomes.values()))

    async def record(self, deliveries: Sequence[NewDelivery]) -> set[tuple[UUID, str]]:
        if not deliveries:
            return set()
        conn = await self.uow.connection()
        rows = await conn.fetch(
            _RECORD,
            [d.report_id for d in deliveries],
            [d.status_event_id for d in deliveries],
            [d.channel for d in deliveries],
            [d.template for d in deliveries],
            [d.language for d in deliveries],
            [d.receipt_code for d in deliveries],
            [d.subject for d in deliveries],
            [d.body for d in deliveries],
            [d.reason for d in deliveries],
            [d.status_changed_at for d in deliveries],
        )
        return {(r["status_event_id"], r["channel"]) for r in rows}
