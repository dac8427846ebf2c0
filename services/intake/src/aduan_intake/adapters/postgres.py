"""The filing stores on PostgreSQL: constant SQL on a unit of work's asyncpg connection
(prepared once per connection), one statement per table for a whole group of filings, and
the one-round-trip reads of where a reply goes (`answering`) and whether a message is
known already (`known`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

import asyncpg

from aduan_intake.adapters.stores import Earlier, ReporterKey
from aduan_kit.uow import UnitOfWork

__all__ = ["PgFilings", "PgQuestions"]

# No conflict target on the claim: a receipt code or report id someone else holds is
# skipped too (and told apart by `_EARLIER`), so no statement of a filing fails and a
# group's transaction needs no savepoint per filing.
_CLAIM = (
    "INSERT INTO submissions (channel, channel_message_id, report_id, receipt_code, fingerprint)"
    " SELECT * FROM unnest($1::text[], $2::text[], $3::uuid[], $4::text[], $5::bytea[])"
    " ON CONFLICT DO NOTHING RETURNING report_id"
)
_EARLIER = (
    "SELECT s.channel, s.channel_message_id, s.report_id, s.receipt_code, s.fingerprint"
    " FROM submissions s JOIN unnest($1::text[], $2::text[]) AS m(channel, mid)"
    " ON s.channel = m.channel AND s.channel_message_id = m.mid"
)
_NOTE_KEY = (
    "UPDATE submissions s SET key_id = n.key_id"
    " FROM unnest($1::uuid[], $2::uuid[]) AS n(report_id, key_id) WHERE s.report_id = n.report_id"
)
# A NULL digest never conflicts (nobody to recognise later: always a fresh key).
_NEW_KEYS = (
    "INSERT INTO reporter_keys (key_id, contact_digest, key)"
    " SELECT * FROM unnest($1::uuid[], $2::bytea[], $3::bytea[])"
    " ON CONFLICT (contact_digest) DO NOTHING RETURNING key_id"
)
_LIVE_KEYS = (
    "SELECT contact_digest, key_id, key FROM reporter_keys"
    " WHERE contact_digest = ANY($1::bytea[]) AND shredded_at IS NULL"
)
# What a message from a one-to-one channel is (`Filer._question_for`), in one round trip:
# kind 1, already added to a report; kind 2, already filed as one; else kind 3, the
# questions open to this contact within the window, the one asked last first.
_ANSWERING = (
    "SELECT 1 AS kind, a.report_id, s.receipt_code, NULL::uuid AS question_id,"
    " NULL::timestamptz AS asked_at FROM amendments a"
    " LEFT JOIN submissions s ON s.report_id = a.report_id"
    " WHERE a.channel = $1 AND a.channel_message_id = $2"
    " UNION ALL SELECT 2, report_id, receipt_code, NULL, NULL FROM submissions"
    " WHERE channel = $1 AND channel_message_id = $2"
    " UNION ALL SELECT 3, s.report_id, s.receipt_code, q.question_id, q.asked_at"
    " FROM reporter_keys k JOIN submissions s ON s.key_id = k.key_id"
    " JOIN open_questions q ON q.report_id = s.report_id"
    " WHERE k.contact_digest = $3 AND q.answered_at IS NULL"
    " AND q.asked_at >= $4 AND q.asked_at <= $5"
    " ORDER BY kind, asked_at DESC, question_id"
)
_KNOWN = (
    "SELECT EXISTS (SELECT 1 FROM submissions WHERE channel = $1 AND channel_message_id = $2)"
    " OR EXISTS (SELECT 1 FROM amendments WHERE channel = $1 AND channel_message_id = $2)"
)
_REMEMBER_QUESTIONS = (
    "INSERT INTO open_questions (question_id, report_id, asked_at)"
    " SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::timestamptz[])"
    " ON CONFLICT (question_id) DO NOTHING"
)


class PgFilings:
    """`FilingStore` and `KeyStore` on one transaction's connection, or on a unit of work
    (`on`): then the pure write (`note_keys`) is held and goes out with the outbox rows
    in one statement (`UnitOfWork.write`), and every read sends held writes first."""

    def __init__(self, conn: asyncpg.Connection | None, uow: UnitOfWork | None = None) -> None:
        self._given = conn
        self._uow = uow

    @classmethod
    def on(cls, uow: UnitOfWork) -> PgFilings:
        return cls(None, uow)

    async def _connection(self) -> asyncpg.Connection:
        if self._uow is not None:
            return await self._uow.connection()
        assert self._given is not None
        return self._given

    async def claim(
        self,
        channels: Sequence[str],
        message_ids: Sequence[str],
        report_ids: Sequence[UUID],
        receipt_codes: Sequence[str],
        fingerprints: Sequence[bytes],
    ) -> set[UUID]:
        rows = await (await self._connection()).fetch(
            _CLAIM, channels, message_ids, report_ids, receipt_codes, fingerprints
        )
        return {row[0] for row in rows}

    async def earlier(
        self, channels: Sequence[str], message_ids: Sequence[str]
    ) -> dict[tuple[str, str], Earlier]:
        return {
            (row[0], row[1]): Earlier(row[2], row[3], row[4])
            for row in await (await self._connection()).fetch(_EARLIER, channels, message_ids)
        }

    async def note_keys(self, report_ids: Sequence[UUID], key_ids: Sequence[UUID]) -> None:
        if not report_ids:
            return
        if self._uow is not None:
            await self._uow.write("submissions", _NOTE_KEY, report_ids, key_ids)
        else:
            await (await self._connection()).execute(_NOTE_KEY, report_ids, key_ids)

    async def answering(
        self, channel: str, message_id: str, digest: bytes, since: datetime, until: datetime
    ) -> list[asyncpg.Record]:
        """Where this message went already, else the contact's open questions (`_ANSWERING`)."""
        rows: list[asyncpg.Record] = await (await self._connection()).fetch(
            _ANSWERING, channel, message_id, digest, since, until
        )
        return rows

    async def known(self, channel: str, message_id: str) -> bool:
        """Whether the message was filed or added to a report already."""
        found: bool = await (await self._connection()).fetchval(_KNOWN, channel, message_id)
        return found

    async def add_keys(
        self, key_ids: Sequence[UUID], digests: Sequence[bytes | None], keys: Sequence[bytes]
    ) -> set[UUID]:
        return {
            row[0]
            for row in await (await self._connection()).fetch(_NEW_KEYS, key_ids, digests, keys)
        }

    async def live_keys(self, digests: Sequence[bytes]) -> dict[bytes, ReporterKey]:
        return {
            row[0]: ReporterKey(row[1], row[2], issued=False)
            for row in await (await self._connection()).fetch(_LIVE_KEYS, digests)
            if row[2] is not None
        }


class PgQuestions:
    """`QuestionStore` on one transaction's connection."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn

    async def remember_questions(
        self, question_ids: Sequence[UUID], report_ids: Sequence[UUID], asked_at: Sequence[datetime]
    ) -> None:
        await self._conn.execute(_REMEMBER_QUESTIONS, question_ids, report_ids, asked_at)
