"""The public projection: what the portal is told about a public report (SPEC rule 4, 8).

Private reports are never projected. A public report is published once both its content
and its status are known, and withdrawn when it is rejected (spam, out of scope).
"""

from __future__ import annotations

import hashlib
from uuid import UUID

from aduan_contracts.enums import Privacy, ReportStatus
from aduan_contracts.events import (
    PublicReportPublished,
    PublicReportWithdrawn,
    PublicTimelineEntry,
)
from aduan_gateway.domain.model import ReportRecord
from aduan_gateway.domain.redaction import public_area_code
from aduan_gateway.domain.views import PublicReportView, public_view

__all__ = ["public_event", "public_id_of", "public_projection"]

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def public_id_of(report_id: UUID) -> str:
    """The report's short public id for URLs and for reading aloud (`P-XXXXX-XXXXX`,
    Crockford base32): derived from the report id, so every projection of a report gives
    the same one; 50 bits, so 185,852 reports a year collide with odds of about 1 in 60,000
    per year (the portal then shows the newest, and the report id still opens each). It
    reveals nothing: not the receipt code, not the time."""
    digest = int.from_bytes(hashlib.sha256(b"aduan-public-id\0" + report_id.bytes).digest()[:7])
    value = digest >> 6  # 50 bits
    chars = "".join(_CROCKFORD[(value >> (5 * i)) & 31] for i in range(9, -1, -1))
    return f"P-{chars[:5]}-{chars[5:]}"


def public_event(
    record: ReportRecord, correlation_id: str, causation_id: str | None = None
) -> PublicReportPublished | PublicReportWithdrawn | None:
    """The event to publish after `record` changed, or None when nothing may be published."""
    return public_projection(record, correlation_id, causation_id)[0]


def public_projection(
    record: ReportRecord, correlation_id: str, causation_id: str | None = None
) -> tuple[PublicReportPublished | PublicReportWithdrawn | None, PublicReportView | None]:
    """`public_event` and the public view it was made from (None when the public may not
    see the report), computed once: the projector stores the view on the row it writes
    (adapters/publicviews.py)."""
    if record.privacy is not Privacy.PUBLIC or not record.complete:
        return None, None
    # Rejected, or hidden by a ticket-admin (moderation): the portal drops it.
    if record.status is ReportStatus.REJECTED or record.public_hidden:
        withdrawn = PublicReportWithdrawn(
            report_id=record.report_id,
            public_id=public_id_of(record.report_id),
            correlation_id=correlation_id,
            causation_id=causation_id,
        )
        return withdrawn, None
    view = public_view(record)
    if view is None:  # the reporter's key has not arrived (`public_view`)
        return None, None
    return PublicReportPublished(
        report_id=view.report_id,
        public_id=public_id_of(view.report_id),
        title=view.title,
        text=view.text,
        category=view.category,
        agency_id=view.agency_id,
        status=view.status,
        status_label=view.status_label,
        channel=view.channel,
        area=view.area,
        area_code=public_area_code(record.location),
        month=view.month,
        confidentiality_label=view.confidentiality_label,
        timeline=tuple(
            PublicTimelineEntry(
                status=t.status, label=t.label, month=t.month, agency_id=t.agency_id
            )
            for t in view.timeline
        ),
        completed_hours=_completed_hours(record),
        coarse_point=view.coarse_point,
        correlation_id=correlation_id,
        causation_id=causation_id,
    ), view


def _completed_hours(record: ReportRecord) -> float | None:
    """Hours from receipt to the latest completion (for the portal's statistics)."""
    if record.status is not ReportStatus.COMPLETED or record.received_at is None:
        return None
    done = [t.occurred_at for t in record.timeline if t.status is ReportStatus.COMPLETED]
    if not done:
        return None
    return round((max(done) - record.received_at).total_seconds() / 3600, 1)
