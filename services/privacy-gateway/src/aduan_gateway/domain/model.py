"""The gateway's read model of a report, as domain objects (built from its own tables)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from aduan_contracts.enums import Channel, Privacy, ReportStatus, Role
from aduan_contracts.values import FollowUp, Location, PhotoRef, SealedIdentity

__all__ = ["EscalationRecord", "PublicText", "ReportRecord", "TimelineRecord"]


@dataclass(frozen=True, slots=True)
class PublicText:
    """A report's title and text as one audience may see them (the public; officers),
    redacted when the content, the reporter's key, the erasure or a moderation changed
    them (stored with the report, so reads never open an identity)."""

    title: str | None
    text: str


@dataclass(frozen=True, slots=True)
class TimelineRecord:
    """One lifecycle transition as workflow announced it."""

    version: int
    status: ReportStatus
    occurred_at: datetime
    actor_role: Role
    agency_id: str | None = None  # the report's agency after this step
    actor_agency: str | None = None
    actor_display_name: str | None = None
    reason: str | None = None
    follow_up_note: str | None = None
    follow_up: FollowUp | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class EscalationRecord:
    """An SLA reminder or breach of the report's running clock, flagged up the unit line
    (issue 19, D19): from the unit the report sat at to its parent (`to_unit`; None: a
    root unit, the validator bureau alone)."""

    kind: str  # reminder | breach
    stage: str
    due_at: datetime
    from_unit: str | None
    to_unit: str | None
    after_version: int
    note: str
    at: datetime


@dataclass(frozen=True, slots=True)
class ReportRecord:
    """A report as the gateway knows it. Content (from intake) and status (from workflow)
    arrive on different topics in either order, so either half may still be missing:
    `has_content` / `status is None` say which."""

    report_id: UUID
    channel: Channel
    receipt_code: str | None = None
    privacy: Privacy = Privacy.PRIVATE
    has_content: bool = False
    title: str | None = None
    text: str | None = None
    category: str | None = None
    category_hint: str | None = None
    agency_id: str | None = None
    location: Location | None = None
    photos: tuple[PhotoRef, ...] = ()
    received_at: datetime | None = None
    status: ReportStatus | None = None
    status_version: int = 0
    sealed_identity: SealedIdentity | None = None
    reporter_key_id: UUID | None = None
    # The reporter's name parts, contact and handle, for hiding them in text; filled only
    # while the gateway holds the reporter's key, never shown, never stored.
    reporter_terms: tuple[str, ...] = ()
    identity_pending: bool = False
    # The stored redaction (read model); None when not loaded or not computable yet.
    public_text: PublicText | None = None
    # The stored officer text (read model): the reporter's own values, phones, e-mails and
    # NIKs hidden; None when not loaded (views then scrub `title`/`text` themselves) or
    # not computable yet (`identity_pending`).
    officer_text: PublicText | None = None
    # A ticket-admin hid it from every public surface (moderation).
    public_hidden: bool = False
    timeline: tuple[TimelineRecord, ...] = field(default=())
    # Escalations of the report's current stay at its unit (loaded with officers' reads).
    escalations: tuple[EscalationRecord, ...] = ()

    @property
    def current_escalations(self) -> tuple[EscalationRecord, ...]:
        """Those raised while the report sat at the unit it is assigned to now (a
        re-dispatch starts afresh)."""
        return tuple(e for e in self.escalations if e.from_unit == self.agency_id)

    @property
    def complete(self) -> bool:
        """Both halves known: only then may a view of it be shown or published."""
        return self.has_content and self.status is not None and self.received_at is not None

    @property
    def shown_category(self) -> str | None:
        """Workflow's category once triaged, else the reporter's hint."""
        return self.category or self.category_hint

    @property
    def all_photos(self) -> tuple[PhotoRef, ...]:
        """The report's photos and every follow-up's after-photos (all fall under rule 3)."""
        photos = list(self.photos)
        for entry in self.timeline:
            if entry.follow_up is not None:
                photos += entry.follow_up.photos
        return tuple(photos)
