"""The notifier's stores on PostgreSQL: one prepared asyncpg statement per call, on the unit
of work's own transaction (`await uow.connection()`).

SQL strings are constants (asyncpg prepares and caches each per connection); a batch's
values travel as arrays and are expanded with `unnest`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from uuid import UUID

from aduan_contracts.events import ReportStatusChanged
from aduan_kit.keystore import add_keys, shred_keys, shredded_among
from aduan_kit.uow import UnitOfWork
from aduan_notifier.adapters.stores import TOLD_WITH_RECEIPT, NewDelivery, NewRecipient, Recipient

__all__ = ["REPORT_LOCK_SPACE", "PgStatusStore", "PgStore"]

# Advisory-lock space for "one transaction per report at a time" (the outbox relay's lock is
# a single 64-bit key, a separate space). Taken by status changes and by reports.
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
# A delivery told with another (`NewDelivery.told_with`, $11) is recorded after the others,
# 'skipped' ($12 the cause) if that other one was inserted by this very statement, else
# 'pending' (its message was recorded earlier with its own words: this one must still be
# said).
_RECORD = (
    "WITH u AS (SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], "
    "$5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::timestamptz[], "
    "$11::uuid[]) WITH ORDINALITY AS u(r, s, c, t, l, rc, sub, b, re, at, w, n)), "
    "own AS (INSERT INTO deliveries (report_id, status_event_id, channel, template, language, "
    "receipt_code, subject, body, reason, status_changed_at, state, attempts) "
    "SELECT r, s, c, t, l, rc, sub, b, re, at, 'pending', 0 FROM u WHERE w IS NULL ORDER BY n "
    "ON CONFLICT (status_event_id, channel) DO NOTHING RETURNING status_event_id, channel), "
    "told AS (SELECT u.*, EXISTS (SELECT 1 FROM own WHERE own.status_event_id = u.w "
    "AND own.channel = u.c) AS skip FROM u WHERE w IS NOT NULL), "
    "folded AS (INSERT INTO deliveries (report_id, status_event_id, channel, template, "
    "language, receipt_code, subject, body, reason, status_changed_at, state, attempts, "
    "last_error, finished_at) "
    "SELECT r, s, c, t, l, rc, sub, b, re, at, CASE WHEN skip THEN 'skipped' ELSE 'pending' END, "
    "0, CASE WHEN skip THEN $12::text END, CASE WHEN skip THEN now() END "
    "FROM told ORDER BY n "
    "ON CONFLICT (status_event_id, channel) DO NOTHING RETURNING status_event_id, channel) "
    "SELECT status_event_id, channel FROM own UNION ALL SELECT status_event_id, channel FROM folded"
)


# A missing identity as JSON null, as the rows SQLAlchemy wrote before (JSONB default).
_ADD_RECIPIENTS = (
    "INSERT INTO recipients (report_id, channel, language, receipt_code, key_id, "
    "sealed_identity, erased_at, last_inbound_at) "
    "SELECT r, c, l, rc, k, coalesce(si, 'null')::jsonb, CASE WHEN e THEN now() END, li "
    "FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::uuid[], $6::text[], "
    "$7::boolean[], $8::timestamptz[]) AS u(r, c, l, rc, k, si, e, li) "
    "ON CONFLICT DO NOTHING"
)

_DUE_NOW_FOR_KEYS = (
    "UPDATE deliveries SET next_attempt_at = now() "
    "WHERE report_id IN (SELECT report_id FROM recipients WHERE key_id = ANY($1::uuid[])) "
    "AND state = 'pending' AND attempts = 0 AND next_attempt_at > now() RETURNING id"
)

# What waited for these recipients, one round trip: the deliveries put back to wait for
# the recipient or key (never attempted, due only later) made due now, and the parked
# status changes taken out. Both data-modifying CTEs
# run once whatever the outer query reads.
_RESOLVE = (
    "WITH due AS (UPDATE deliveries SET next_attempt_at = now() "
    "WHERE report_id = ANY($1::uuid[]) AND state = 'pending' AND attempts = 0 "
    "AND next_attempt_at > now() RETURNING report_id), "
    "parked AS (DELETE FROM pending_notifications WHERE report_id = ANY($1::uuid[]) "
    "RETURNING event::text AS event) "
    "SELECT report_id, NULL::text AS event FROM due "
    "UNION ALL SELECT NULL::uuid, event FROM parked"
)

# The sealed copies are unreadable now anyway; dropping them and marking the reporter
# erased also stops every future message to them.
_ERASE = (
    "UPDATE recipients SET sealed_identity = 'null'::jsonb, erased_at = now() "
    "WHERE key_id = ANY($1::uuid[]) RETURNING report_id"
)

# A message already handed to a provider cannot be called back; nothing else goes out.
_SKIP = (
    "UPDATE deliveries SET state = 'skipped', last_error = 'reporter erased', "
    "finished_at = now(), lease_until = NULL "
    "WHERE report_id = ANY($1::uuid[]) AND state IN ('pending', 'sending')"
)


_TOUCH_INBOUND = (
    "UPDATE recipients AS r SET last_inbound_at = greatest(coalesce(r.last_inbound_at, u.at), "
    "u.at) FROM unnest($1::uuid[], $2::timestamptz[]) AS u(id, at) WHERE r.report_id = u.id"
)


class PgStore:
    """The notifier's stores (`StatusStore`, `IntakeStore`, `KeyStore`, `NoticeStore`) on
    the unit of work's transaction."""

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
            [d.told_with for d in deliveries],
            TOLD_WITH_RECEIPT,
        )
        return {(r["status_event_id"], r["channel"]) for r in rows}

    async def shredded(self, key_ids: Sequence[UUID]) -> set[UUID]:
        if not key_ids:
            return set()
        return await shredded_among(await self.uow.connection(), key_ids)

    async def add_recipients(self, recipients: Sequence[NewRecipient]) -> None:
        if not recipients:
            return
        conn = await self.uow.connection()
        await conn.execute(
            _ADD_RECIPIENTS,
            [r.report_id for r in recipients],
            [r.channel for r in recipients],
            [r.language for r in recipients],
            [r.receipt_code for r in recipients],
            [r.key_id for r in recipients],
            [r.sealed_identity for r in recipients],
            [r.erased for r in recipients],
            [r.last_inbound_at for r in recipients],
        )

    async def resolve(
        self, report_ids: Sequence[UUID]
    ) -> tuple[list[UUID], list[ReportStatusChanged]]:
        if not report_ids:
            return [], []
        conn = await self.uow.connection()
        rows = await conn.fetch(_RESOLVE, list(set(report_ids)))
        due = [r["report_id"] for r in rows if r["event"] is None]
        parked = [
            ReportStatusChanged.model_validate_json(r["event"])
            for r in rows
            if r["event"] is not None
        ]
        return due, parked

    async def add_keys(self, keys: Mapping[UUID, bytes]) -> None:
        if keys:
            await add_keys(await self.uow.connection(), keys)

    async def due_now_for_keys(self, key_ids: Sequence[UUID]) -> int:
        if not key_ids:
            return 0
        conn = await self.uow.connection()
        return len(await conn.fetch(_DUE_NOW_FOR_KEYS, list(set(key_ids))))

    async def shred(self, key_ids: Sequence[UUID]) -> list[UUID]:
        if not key_ids:
            return []
        conn = await self.uow.connection()
        unique = list(dict.fromkeys(key_ids))
        await shred_keys(conn, unique)
        return [r["report_id"] for r in await conn.fetch(_ERASE, unique)]

    async def skip_deliveries(self, report_ids: Sequence[UUID]) -> None:
        if not report_ids:
            return
        conn = await self.uow.connection()
        await conn.execute(_SKIP, list(set(report_ids)))

    async def touch_inbound(self, latest: Mapping[UUID, datetime]) -> None:
        if not latest:
            return
        conn = await self.uow.connection()
        await conn.execute(_TOUCH_INBOUND, list(latest), list(latest.values()))


# The name the status-change tests and callers knew.
PgStatusStore = PgStore
