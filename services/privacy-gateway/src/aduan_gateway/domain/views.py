"""What each role may see of a report: one response model per audience, and the rule that
picks it (SPEC "Privacy by default", rules 3-6).

- `public` (portal, no login): public reports only; scrubbed text, month, area, no actor names.
- `validator`, `ticket-admin`, `administrator` ("full" roles): exact time, precise location,
  full text; the reporter only as a stable pseudonym; photos of a private report stay
  locked until a validator grants access (grants come later: for now always locked).
- `agency-officer`: only reports dispatched to their own agency; coarse date and area,
  scrubbed text, no photos.
Reporters reading their own reports (rule 4) come with reporter identity linking, later.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict

from aduan_contracts.enums import Channel, Privacy, ReportStatus, Role
from aduan_contracts.values import GeoPoint, PhotoRef
from aduan_gateway.domain.model import ReportRecord, TimelineRecord
from aduan_gateway.domain.redaction import (
    coarse_area,
    coarse_month,
    confidentiality_label,
    pseudonym,
    scrub_text,
)

__all__ = [
    "FULL_ACCESS_ROLES",
    "OFFICER_ROLES",
    "LocationView",
    "OfficerReportView",
    "OfficerTimelineEntry",
    "PublicReportView",
    "PublicTimelineView",
    "officer_view",
    "public_view",
    "visible_to_officer",
]

FULL_ACCESS_ROLES = frozenset({Role.VALIDATOR, Role.TICKET_ADMIN, Role.ADMINISTRATOR})
OFFICER_ROLES = FULL_ACCESS_ROLES | {Role.AGENCY_OFFICER}


class _View(BaseModel):
    model_config = ConfigDict(frozen=True)


class PublicTimelineView(_View):
    """One step of a public report's history: status and month, no people."""

    status: ReportStatus
    label: str
    month: str
    agency_id: str | None = None


class PublicReportView(_View):
    """A public report as anyone may see it (redacted)."""

    report_id: UUID
    title: str | None
    text: str
    category: str | None
    agency_id: str | None
    status: ReportStatus
    status_label: str
    channel: Channel
    area: str | None
    month: str
    confidentiality_label: str
    timeline: tuple[PublicTimelineView, ...]


class LocationView(_View):
    """Precise location (point, address) only for full-access roles; area for everyone."""

    area: str | None = None
    address: str | None = None
    point: GeoPoint | None = None


class OfficerTimelineEntry(_View):
    """A transition with who made it (officer names are shown so a leak can be traced)."""

    version: int
    status: ReportStatus
    label: str
    month: str
    occurred_at: datetime | None = None  # full-access roles only
    actor_role: Role
    actor_agency: str | None = None
    actor_display_name: str | None = None
    reason: str | None = None
    follow_up_note: str | None = None


class OfficerReportView(_View):
    """A report as an officer sees it; which fields are filled depends on the role."""

    access: Literal["full", "agency"]
    report_id: UUID
    receipt_code: str | None = None  # full-access roles only (call-centre look-ups)
    channel: Channel
    privacy: Privacy
    confidentiality_label: str
    title: str | None
    text: str
    category: str | None
    agency_id: str | None
    status: ReportStatus
    status_label: str
    status_version: int
    month: str
    received_at: datetime | None = None  # exact time: full-access roles only (rule 6)
    location: LocationView | None
    reporter: str | None  # pseudonym, never name or contact (rule 5)
    photos: tuple[PhotoRef, ...] = ()
    photos_locked: bool
    timeline: tuple[OfficerTimelineEntry, ...]


def public_view(record: ReportRecord) -> PublicReportView | None:
    """The public view, or None when the public may not see this report at all (private,
    not complete yet, or rejected)."""
    if (
        record.privacy is not Privacy.PUBLIC
        or not record.complete
        or record.status is ReportStatus.REJECTED
    ):
        return None
    assert record.status is not None  # complete
    assert record.received_at is not None
    return PublicReportView(
        report_id=record.report_id,
        title=scrub_text(record.title) if record.title else None,
        text=scrub_text(record.text or ""),
        category=record.shown_category,
        agency_id=record.agency_id,
        status=record.status,
        status_label=record.status.label_id,
        channel=record.channel,
        area=coarse_area(record.location),
        month=coarse_month(record.received_at),
        confidentiality_label=confidentiality_label(record.privacy),
        timeline=tuple(
            PublicTimelineView(
                status=t.status,
                label=t.status.label_id,
                month=coarse_month(t.occurred_at),
                agency_id=t.agency_id,
            )
            for t in record.timeline
        ),
    )


def visible_to_officer(record: ReportRecord, role: Role, agency_id: str | None) -> bool:
    """May this officer see the report at all? (Not: which fields.)"""
    if role in FULL_ACCESS_ROLES:
        return record.has_content
    if role is Role.AGENCY_OFFICER:
        # An officer without an agency sees nothing rather than everything unassigned.
        return record.has_content and agency_id is not None and record.agency_id == agency_id
    return False


def officer_view(
    record: ReportRecord, role: Role, agency_id: str | None, pseudonym_secret: str
) -> OfficerReportView | None:
    """The view for an officer, or None when they may not see this report (the caller
    answers 404 then, so a report's existence does not leak across agencies)."""
    if not visible_to_officer(record, role, agency_id) or record.status is None:
        return None
    assert record.received_at is not None  # has_content
    full = role in FULL_ACCESS_ROLES
    reporter = (
        pseudonym(pseudonym_secret, str(record.sealed_identity.key_id))
        if record.sealed_identity is not None
        else None
    )
    location: LocationView | None = None
    if record.location is not None:
        location = (
            LocationView(
                area=record.location.area,
                address=record.location.address,
                point=record.location.point,
            )
            if full
            else LocationView(area=coarse_area(record.location))
        )
    # Photos of a private report are locked for every role until a validator grants access
    # (rule 3); agency officers never get photos in this view.
    photos_locked = record.privacy is Privacy.PRIVATE or not full
    return OfficerReportView(
        access="full" if full else "agency",
        report_id=record.report_id,
        receipt_code=record.receipt_code if full else None,
        channel=record.channel,
        privacy=record.privacy,
        confidentiality_label=confidentiality_label(record.privacy),
        title=record.title if full else (scrub_text(record.title) if record.title else None),
        text=(record.text or "") if full else scrub_text(record.text or ""),
        category=record.shown_category,
        agency_id=record.agency_id,
        status=record.status,
        status_label=record.status.label_id,
        status_version=record.status_version,
        month=coarse_month(record.received_at),
        received_at=record.received_at if full else None,
        location=location,
        reporter=reporter,
        photos=() if photos_locked else record.photos,
        photos_locked=photos_locked and bool(record.photos),
        timeline=tuple(_officer_entry(t, full) for t in record.timeline),
    )


def _officer_entry(entry: TimelineRecord, full: bool) -> OfficerTimelineEntry:
    return OfficerTimelineEntry(
        version=entry.version,
        status=entry.status,
        label=entry.status.label_id,
        month=coarse_month(entry.occurred_at),
        occurred_at=entry.occurred_at if full else None,
        actor_role=entry.actor_role,
        actor_agency=entry.actor_agency,
        actor_display_name=entry.actor_display_name,
        reason=entry.reason,
        follow_up_note=entry.follow_up_note,
    )
