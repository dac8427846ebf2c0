"""The projector's store on PostgreSQL (`stores.ProjectionStore`): one set-based asyncpg
statement per call, on the unit of work's connection, in its transaction.

The SQL strings are constants: asyncpg prepares each once per connection. A list of rows
goes as one array per column, `unnest`ed server-side: one round trip per table per batch.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, Sequence
from typing import Any
from uuid import UUID

import asyncpg
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from aduan_contracts.topics import TopicSpec
from aduan_gateway.adapters.publicviews import VIEW_FORMAT
from aduan_gateway.adapters.readmodel import _KEYS_LOCK
from aduan_gateway.adapters.stores import (
    ContentRow,
    OfficerReason,
    ProjectionStore,
    ReportRow,
    StatusRow,
    TextsRow,
    TimelineReason,
    TimelineRow,
    Timelines,
)
from aduan_gateway.domain.rows import timeline_record
from aduan_kit.keystore import add_keys, key_states, shred_keys
from aduan_kit.uow import UnitOfWork

__all__ = ["PgProjection", "PgProjectionUnit"]

# A report row as the projection needs it (every column `domain.rows.row_record` reads).
# jsonb comes as text and is parsed here, whatever codecs the connection has.
_JSON_COLUMNS = ("location", "photos", "sealed_identity", "sealed_original")
_COLUMNS = (
    "{t}.report_id, {t}.receipt_code, {t}.channel, {t}.privacy, {t}.has_content, {t}.title, "
    "{t}.text, {t}.language, {t}.category, {t}.category_hint, {t}.agency_id, "
    "{t}.location::text AS location, {t}.photos::text AS photos, {t}.received_at, {t}.status, "
    "{t}.status_version, {t}.sealed_identity::text AS sealed_identity, {t}.reporter_key_id, "
    "{t}.public_title, {t}.public_text, {t}.officer_title, {t}.officer_text, "
    "{t}.sealed_original::text AS sealed_original, {t}.public_hidden, {t}.moderated_title, "
    "{t}.moderated_text, {t}.due_at"
)
_R = _COLUMNS.format(t="r")

_LOCK_SHARED = f"SELECT pg_advisory_xact_lock_shared({_KEYS_LOCK})"
_LOCK_EXCLUSIVE = f"SELECT pg_advisory_xact_lock({_KEYS_LOCK})"


# Content is written once: a second submission for the same id changes nothing (the WHERE).
_CONTENT_UPSERT = (
    "INSERT INTO reports AS r (report_id, receipt_code, channel, privacy, title, text, "
    "language, category_hint, location, photos, received_at, reporter_key_id, public_title, "
    "public_text, officer_title, officer_text, sealed_identity, sealed_original, has_content, "
    "updated_at) "
    "SELECT u.report_id, u.receipt_code, u.channel, u.privacy, u.title, u.text, u.language, "
    "u.category_hint, u.location::jsonb, u.photos::jsonb, u.received_at, u.reporter_key_id, "
    "u.public_title, u.public_text, u.officer_title, u.officer_text, u.sealed_identity::jsonb, "
    "u.sealed_original::jsonb, true, now() "
    "FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], "
    "$7::text[], $8::text[], $9::text[], $10::text[], $11::timestamptz[], $12::uuid[], "
    "$13::text[], $14::text[], $15::text[], $16::text[], $17::text[], $18::text[]) "
    "AS u(report_id, receipt_code, channel, privacy, title, text, language, category_hint, "
    "location, photos, received_at, reporter_key_id, public_title, public_text, officer_title, "
    "officer_text, sealed_identity, sealed_original) "
    "ON CONFLICT (report_id) DO UPDATE SET receipt_code = EXCLUDED.receipt_code, "
    "channel = EXCLUDED.channel, privacy = EXCLUDED.privacy, title = EXCLUDED.title, "
    "text = EXCLUDED.text, language = EXCLUDED.language, "
    "category_hint = EXCLUDED.category_hint, location = EXCLUDED.location, "
    "photos = EXCLUDED.photos, received_at = EXCLUDED.received_at, "
    "reporter_key_id = EXCLUDED.reporter_key_id, public_title = EXCLUDED.public_title, "
    "public_text = EXCLUDED.public_text, officer_title = EXCLUDED.officer_title, "
    "officer_text = EXCLUDED.officer_text, sealed_identity = EXCLUDED.sealed_identity, "
    "sealed_original = EXCLUDED.sealed_original, has_content = true, "
    "updated_at = EXCLUDED.updated_at "
    "WHERE r.has_content = false "
    "RETURNING " + _R
)

# The reports a batch of status changes touches, locked: what is projected after the
# write is what the row holds then (a moderation that commits meanwhile waits, or is seen).
# Each report's timeline comes with it, as JSON (one round trip instead of two).
_TIMELINE_JSON = (
    "(SELECT json_agg(json_build_object('version', t.version, 'status', t.status, "
    "'agency_id', t.agency_id, 'actor_role', t.actor_role, 'actor_agency', t.actor_agency, "
    "'actor_display_name', t.actor_display_name, 'reason', t.reason, "
    "'follow_up_note', t.follow_up_note, 'follow_up', t.follow_up, 'extra', t.extra, "
    "'occurred_at', t.occurred_at)) FROM timeline t WHERE t.report_id = r.report_id)::text"
)
_LOAD_FOR_UPDATE = (
    "SELECT "  # noqa: S608 (constant fragments, no data)
    + _R
    + ", k.key AS reporter_key, "
    + _TIMELINE_JSON
    + " AS timeline FROM reports r "
    "LEFT JOIN reporter_keys k ON k.key_id = r.reporter_key_id "
    "WHERE r.report_id = ANY($1::uuid[]) ORDER BY r.report_id FOR UPDATE OF r"
)
_TIMELINES = (
    "SELECT report_id, version, status, agency_id, actor_role, actor_agency, "
    "actor_display_name, reason, follow_up_note, follow_up::text AS follow_up, "
    "extra::text AS extra, occurred_at FROM timeline WHERE report_id = ANY($1::uuid[]) "
    "ORDER BY report_id, version"
)
# The status moves only forward (by version): the status and content topics, and
# redeliveries, arrive in any order. One row per report (its batch's last step).
# The public view made from the state written goes with it ($10: `VIEW_FORMAT` for the
# rows that have one). Writing it is what keeps it: the rows' trigger empties a view an
# update does not change, and the timeline's trigger leaves rows this transaction wrote
# (migration 0024); a row not written here (an older step joining its timeline) has its
# view emptied, and a public read builds it (adapters/publicviews.py).
_STATUS_UPSERT = (
    "INSERT INTO reports AS r (report_id, channel, receipt_code, status, status_version, "
    "category, agency_id, due_at, updated_at, public_view, public_view_format) "
    "SELECT u.report_id, u.channel, u.receipt_code, u.status, u.status_version, u.category, "
    "u.agency_id, u.due_at, now(), u.public_view, "
    "CASE WHEN u.public_view IS NOT NULL THEN $10::text END "
    "FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::int[], $6::text[], "
    "$7::text[], $8::timestamptz[], $9::text[]) AS u(report_id, channel, receipt_code, status, "
    "status_version, category, agency_id, due_at, public_view) "
    "ON CONFLICT (report_id) DO UPDATE SET status = EXCLUDED.status, "
    "status_version = EXCLUDED.status_version, category = EXCLUDED.category, "
    "agency_id = EXCLUDED.agency_id, due_at = EXCLUDED.due_at, updated_at = EXCLUDED.updated_at, "
    "public_view = EXCLUDED.public_view, public_view_format = EXCLUDED.public_view_format "
    "WHERE r.status_version < EXCLUDED.status_version"
)
_TIMELINE_INSERT = (
    "INSERT INTO timeline (report_id, version, status, agency_id, actor_role, actor_agency, "
    "actor_display_name, reason, follow_up_note, follow_up, extra, occurred_at, "
    "officer_reason) "
    "SELECT u.report_id, u.version, u.status, u.agency_id, u.actor_role, u.actor_agency, "
    "u.actor_display_name, u.reason, u.follow_up_note, u.follow_up::jsonb, u.extra::jsonb, "
    "u.occurred_at, u.officer_reason "
    "FROM unnest($1::uuid[], $2::int[], $3::text[], $4::text[], $5::text[], $6::text[], "
    "$7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::timestamptz[], "
    "$13::text[]) "
    "AS u(report_id, version, status, agency_id, actor_role, actor_agency, "
    "actor_display_name, reason, follow_up_note, follow_up, extra, occurred_at, "
    "officer_reason) "
    "ON CONFLICT ON CONSTRAINT uq_timeline_report_version DO NOTHING"
)

_REPORTS_OF_KEYS = (
    "SELECT " + _R + ", k.key AS reporter_key, k.key_id AS key_row FROM reports r "  # noqa: S608
    "LEFT JOIN reporter_keys k ON k.key_id = r.reporter_key_id "
    "WHERE r.reporter_key_id = ANY($1::uuid[]) "
    "ORDER BY r.received_at, r.report_id FOR UPDATE OF r"
)
_SET_TEXTS = (
    "UPDATE reports AS r SET public_title = u.public_title, public_text = u.public_text, "
    "officer_title = u.officer_title, officer_text = u.officer_text "
    "FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[]) "
    "AS u(report_id, public_title, public_text, officer_title, officer_text) "
    "WHERE r.report_id = u.report_id "
    # A text scrubbed again to what it was (the reporter's values were not in it) is not
    # written: a row's update writes all its indexes and its text's trigram entries again.
    "AND (r.public_title, r.public_text, r.officer_title, r.officer_text) IS DISTINCT FROM "
    "(u.public_title, u.public_text, u.officer_title, u.officer_text)"
)

# The officer copies of a report's timeline reasons, scrubbed again once the reporter's
# values are known (their content or key arrived after the entries).
_REASONS = (
    "SELECT report_id, version, reason FROM timeline "
    "WHERE report_id = ANY($1::uuid[]) AND reason IS NOT NULL"
)
_SET_REASONS = (
    "UPDATE timeline AS t SET officer_reason = u.officer_reason "
    "FROM unnest($1::uuid[], $2::int[], $3::text[]) AS u(report_id, version, officer_reason) "
    "WHERE t.report_id = u.report_id AND t.version = u.version "
    "AND t.officer_reason IS DISTINCT FROM u.officer_reason"
)

# Which keys lock this transaction holds (`lock_keys`): in the unit of work's `info`.
_HELD = "aduan_gateway.keys_lock"


def _row(record: asyncpg.Record) -> ReportRow:
    row = dict(record)
    for column in _JSON_COLUMNS:
        if row[column] is not None:
            row[column] = json.loads(row[column])
    return row


def _json(value: Any) -> str | None:
    return None if value is None else json.dumps(value)


class PgProjection:
    """`ProjectionStore` on the unit of work's asyncpg connection."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    async def _conn(self) -> asyncpg.Connection:
        return await self._uow.connection()

    async def lock_keys(self, exclusive: bool) -> None:
        held = self._uow.info.get(_HELD)
        if held == "exclusive" or (held == "shared" and not exclusive):
            return
        conn = await self._conn()
        await conn.execute(_LOCK_EXCLUSIVE if exclusive else _LOCK_SHARED)
        self._uow.info[_HELD] = "exclusive" if exclusive else "shared"

    async def key_states(self, key_ids: Collection[UUID]) -> dict[UUID, bytes | None]:
        return await key_states(await self._conn(), key_ids)

    async def add_keys(self, keys: Mapping[UUID, bytes]) -> None:
        await add_keys(await self._conn(), keys)

    async def shred_keys(self, key_ids: Collection[UUID]) -> None:
        await shred_keys(await self._conn(), key_ids)

    async def add_contents(self, rows: Sequence[ContentRow]) -> list[ReportRow]:
        if not rows:
            return []
        conn = await self._conn()
        written = await conn.fetch(
            _CONTENT_UPSERT,
            [r.report_id for r in rows],
            [r.receipt_code for r in rows],
            [r.channel for r in rows],
            [r.privacy for r in rows],
            [r.title for r in rows],
            [r.text for r in rows],
            [r.language for r in rows],
            [r.category_hint for r in rows],
            [r.location for r in rows],
            [r.photos for r in rows],
            [r.received_at for r in rows],
            [r.reporter_key_id for r in rows],
            [r.public_title for r in rows],
            [r.public_text for r in rows],
            [r.officer_title for r in rows],
            [r.officer_text for r in rows],
            [r.sealed_identity for r in rows],
            [r.sealed_original for r in rows],
        )
        return [_row(r) for r in written]

    async def locked_with_timelines(
        self, report_ids: Collection[UUID]
    ) -> tuple[dict[UUID, ReportRow], Timelines]:
        conn = await self._conn()
        rows: dict[UUID, ReportRow] = {}
        timelines: Timelines = {}
        for found in await conn.fetch(_LOAD_FOR_UPDATE, list(report_ids)):
            row = rows[found["report_id"]] = _row(found)
            entries = (timeline_record(t) for t in json.loads(row.pop("timeline") or "[]"))
            timelines[row["report_id"]] = {t.version: t for t in entries}
        return rows, timelines

    async def timelines(self, report_ids: Collection[UUID]) -> Timelines:
        out: Timelines = {rid: {} for rid in report_ids}
        if not report_ids:
            return out
        conn = await self._conn()
        for r in await conn.fetch(_TIMELINES, list(report_ids)):
            row = dict(r)
            for column in ("follow_up", "extra"):
                if row[column] is not None:
                    row[column] = json.loads(row[column])
            out[row["report_id"]][row["version"]] = timeline_record(row)
        return out

    async def set_statuses(self, rows: Sequence[StatusRow]) -> None:
        if not rows:
            return
        conn = await self._conn()
        await conn.execute(
            _STATUS_UPSERT,
            [r.report_id for r in rows],
            [r.channel for r in rows],
            [r.receipt_code for r in rows],
            [r.status for r in rows],
            [r.status_version for r in rows],
            [r.category for r in rows],
            [r.agency_id for r in rows],
            [r.due_at for r in rows],
            [r.public_view for r in rows],
            VIEW_FORMAT,
        )

    async def add_timeline(self, rows: Sequence[TimelineRow]) -> None:
        if not rows:
            return
        conn = await self._conn()
        await conn.execute(
            _TIMELINE_INSERT,
            [r.report_id for r in rows],
            [r.version for r in rows],
            [r.status for r in rows],
            [r.agency_id for r in rows],
            [r.actor_role for r in rows],
            [r.actor_agency for r in rows],
            [r.actor_display_name for r in rows],
            [r.reason for r in rows],
            [r.follow_up.note if r.follow_up else None for r in rows],
            [r.follow_up.model_dump_json() if r.follow_up else None for r in rows],
            [_json(r.extra) for r in rows],
            [r.occurred_at for r in rows],
            [r.officer_reason for r in rows],
        )

    async def reports_of_keys(self, key_ids: Collection[UUID]) -> list[ReportRow]:
        conn = await self._conn()
        return [_row(r) for r in await conn.fetch(_REPORTS_OF_KEYS, list(key_ids))]

    async def set_texts(self, rows: Sequence[TextsRow]) -> None:
        if not rows:
            return
        conn = await self._conn()
        await conn.execute(
            _SET_TEXTS,
            [r.report_id for r in rows],
            [r.public_title for r in rows],
            [r.public_text for r in rows],
            [r.officer_title for r in rows],
            [r.officer_text for r in rows],
        )

    async def reasons(self, report_ids: Collection[UUID]) -> list[TimelineReason]:
        if not report_ids:
            return []
        conn = await self._conn()
        return [
            TimelineReason(r["report_id"], r["version"], r["reason"])
            for r in await conn.fetch(_REASONS, list(report_ids))
        ]

    async def set_officer_reasons(self, rows: Sequence[OfficerReason]) -> None:
        if not rows:
            return
        conn = await self._conn()
        await conn.execute(
            _SET_REASONS,
            [r.report_id for r in rows],
            [r.version for r in rows],
            [r.officer_reason for r in rows],
        )


class PgProjectionUnit:
    """The projector's unit (`stores.ProjectionUnit`) on a kit unit of work: its store on
    the transaction's asyncpg connection, its ORM session (rare steps) and its outbox."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow
        # Typed as the Protocol: mypy checks the implementation against it.
        self.store: ProjectionStore = PgProjection(uow)

    @property
    def session(self) -> AsyncSession:
        return self._uow.session

    def publish(self, topic: TopicSpec | str, event: BaseModel, key: UUID) -> None:
        self._uow.publish(topic, event, key=key)
