"""The store the read-model projector's use cases talk to (`service/projector.py`), as a
small Protocol, and the rows it takes.

Every write takes a *list*: a use case hands a whole poll's rows for one table to one call,
and the PostgreSQL implementation (`adapters.projection_pg`) sends it as one set-based
statement. The in-memory fake of the unit tests implements the same Protocol.

A report row is a dict of the `reports` columns (`ReportRow`): the projector applies a
poll's steps to it in memory (`domain.steps.apply_step`) and projects it with the read
model's helpers, which read rows by column name.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from aduan_contracts.topics import TopicSpec
from aduan_contracts.values import FollowUp
from aduan_gateway.domain.model import TimelineRecord

__all__ = [
    "ContentRow",
    "OfficerReason",
    "ProjectionStore",
    "ProjectionUnit",
    "ReportRow",
    "StatusRow",
    "TextsRow",
    "TimelineReason",
    "TimelineRow",
    "Timelines",
]

# A `reports` row as the projection reads it: every column `domain.rows.row_record` reads, jsonb
# columns parsed (location, photos, sealed_identity, sealed_original). Read with the
# reporter's key joined, it also has `reporter_key` (None: no key, or shredded) and, from
# `reports_of_keys`, `key_row` (the key's id when its row exists).
ReportRow = dict[str, Any]
# Each report's timeline by version.
Timelines = dict[UUID, dict[int, TimelineRecord]]


@dataclass(frozen=True, slots=True)
class ContentRow:
    """A submission's content as stored (written once per report). The jsonb columns are
    given as JSON text (None: NULL)."""

    report_id: UUID
    receipt_code: str
    channel: str
    privacy: str
    title: str | None
    text: str
    language: str | None
    category_hint: str | None
    location: str | None
    photos: str
    received_at: datetime
    reporter_key_id: UUID | None
    public_title: str | None
    public_text: str | None
    officer_title: str | None
    officer_text: str | None
    sealed_identity: str | None
    sealed_original: str | None


@dataclass(frozen=True, slots=True)
class StatusRow:
    """A report's current status after a poll's steps (a row is created without content
    if the status comes first)."""

    report_id: UUID
    channel: str
    receipt_code: str | None
    status: str
    status_version: int
    category: str | None
    agency_id: str | None
    due_at: datetime | None
    # The report's public view at this state as JSON (None: the public may not see it, or
    # its view is not known here); stored with the status, in this code's view format.
    public_view: str | None = None


@dataclass(frozen=True, slots=True)
class TimelineRow:
    """One step of a report's timeline (one per report and version; a second changes
    nothing). `officer_reason`: the reason as officers read it (scrubbed)."""

    report_id: UUID
    version: int
    status: str
    agency_id: str | None
    actor_role: str
    actor_agency: str | None
    actor_display_name: str | None
    reason: str | None
    follow_up: FollowUp | None
    extra: dict[str, Any] | None
    occurred_at: datetime
    officer_reason: str | None


@dataclass(frozen=True, slots=True)
class TextsRow:
    """A report's stored public and officer title and text (None: pending)."""

    report_id: UUID
    public_title: str | None
    public_text: str | None
    officer_title: str | None
    officer_text: str | None


@dataclass(frozen=True, slots=True)
class TimelineReason:
    """A timeline entry's reason as the reporter's step gave it (not NULL)."""

    report_id: UUID
    version: int
    reason: str


@dataclass(frozen=True, slots=True)
class OfficerReason:
    """The officer copy of a timeline entry's reason."""

    report_id: UUID
    version: int
    officer_reason: str | None


class ProjectionStore(Protocol):
    """The read model's tables (reports, timeline, reporter keys) as the projector writes
    them, in the unit of work's transaction."""

    async def lock_keys(self, exclusive: bool) -> None:
        """Take the reporter-keys lock to the end of the transaction (shared: content
        writers; exclusive: key arrivals and erasures; `readmodel.lock_keys`). Taken once
        per transaction: a shared request after either is a no-op."""
        ...

    async def key_states(self, key_ids: Collection[UUID]) -> dict[UUID, bytes | None]:
        """Per key found: its bytes, or None when shredded (a key not received yet is
        absent)."""
        ...

    async def add_keys(self, keys: Mapping[UUID, bytes]) -> None:
        """Store keys not seen before (a shredded key's tombstone stays one)."""
        ...

    async def shred_keys(self, key_ids: Collection[UUID]) -> None:
        """Destroy these keys' bytes (their rows stay as tombstones)."""
        ...

    async def add_contents(self, rows: Sequence[ContentRow]) -> list[ReportRow]:
        """Store the content of reports that have none yet (one row per report; a report
        whose content is stored already is left as it is); the rows written, as they are
        now (a status that came first is kept)."""
        ...

    async def locked_with_timelines(
        self, report_ids: Collection[UUID]
    ) -> tuple[dict[UUID, ReportRow], Timelines]:
        """These reports (those stored; others are absent from both answers), locked to
        the end of the transaction, with their reporter's key (`reporter_key`) and their
        timelines ({} without entries)."""
        ...

    async def timelines(self, report_ids: Collection[UUID]) -> Timelines:
        """The timelines of these reports (every id in the answer, {} without entries)."""
        ...

    async def set_statuses(self, rows: Sequence[StatusRow]) -> None:
        """Move each report's status to its row's (one row per report), only forward: a
        report at that version or later is left as it is; a report not stored yet is
        created without content."""
        ...

    async def add_timeline(self, rows: Sequence[TimelineRow]) -> None:
        """Add these entries; an entry whose (report, version) is there already changes
        nothing."""
        ...

    async def reports_of_keys(self, key_ids: Collection[UUID]) -> list[ReportRow]:
        """The reports sealed under these keys, locked, by received time and id, with
        `reporter_key` and `key_row`."""
        ...

    async def set_texts(self, rows: Sequence[TextsRow]) -> None:
        """Replace these reports' stored public and officer texts."""
        ...

    async def reasons(self, report_ids: Collection[UUID]) -> list[TimelineReason]:
        """The timeline entries of these reports that have a reason."""
        ...

    async def set_officer_reasons(self, rows: Sequence[OfficerReason]) -> None:
        """Replace these entries' officer copies of their reasons."""
        ...


class ProjectionUnit(Protocol):
    """What a projector use case is given: the store, in one transaction, and the outbox.

    `session` is the same transaction's ORM session, for the rare steps that still use it
    (a reporter's message, an erasure); the hot path (submissions, keys issued, status
    changes) never touches it."""

    store: ProjectionStore

    @property
    def session(self) -> AsyncSession: ...

    def publish(self, topic: TopicSpec | str, event: BaseModel, key: UUID) -> None:
        """Queue `event` to be published if and when the unit of work commits."""
        ...
