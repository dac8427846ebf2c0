"""What the portal knows about a public report: exactly what the gateway published."""

from __future__ import annotations

from uuid import UUID

from pydantic import BaseModel, ConfigDict

from aduan_contracts.enums import Channel, ReportStatus
from aduan_contracts.events import PublicReportPublished
from aduan_portal.domain.filters import snap
from aduan_portal.domain.i18n import Language

__all__ = ["CoarsePoint", "PublicReport", "PublicTimelineStep", "shown_status_label"]


class CoarsePoint(BaseModel):
    """A point on the public 0.01° grid (~1 km): where on the map, never where exactly."""

    model_config = ConfigDict(frozen=True)

    lat: float
    lon: float


class PublicTimelineStep(BaseModel):
    """One public step of a report's history (month only, no people)."""

    model_config = ConfigDict(frozen=True)

    status: ReportStatus
    label: str
    month: str
    agency_id: str | None = None
    note: str | None = None


class PublicReport(BaseModel):
    """The portal's public view of a report (HTML and `/api/reports/...`).

    Every field comes from `PublicReportPublished`; the event's exact time is deliberately
    not part of it (SPEC privacy rule 6).
    """

    model_config = ConfigDict(frozen=True)

    report_id: UUID
    public_id: str
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
    timeline: tuple[PublicTimelineStep, ...] = ()
    coarse_point: CoarsePoint | None = None

    @classmethod
    def from_event(cls, event: PublicReportPublished) -> PublicReport:
        return cls(
            report_id=event.report_id,
            public_id=event.public_id,
            title=event.title,
            text=event.text,
            category=event.category,
            agency_id=event.agency_id,
            status=event.status,
            status_label=event.status_label,
            channel=event.channel,
            area=event.area,
            month=event.month,
            confidentiality_label=event.confidentiality_label,
            timeline=tuple(
                PublicTimelineStep.model_validate(t.model_dump()) for t in event.timeline
            ),
            coarse_point=_coarse_point(event),
        )


def _coarse_point(event: PublicReportPublished) -> CoarsePoint | None:
    # getattr: `coarse_point` is an additive contract field; older events have none.
    point = getattr(event, "coarse_point", None)
    lat, lon = getattr(point, "lat", None), getattr(point, "lon", None)
    if lat is None or lon is None:
        return None
    return CoarsePoint(lat=snap(float(lat)), lon=snap(float(lon)))


def shown_status_label(status: ReportStatus, published_label: str, lang: Language) -> str:
    """The gateway's label in Indonesian; the contract's English label on `?lang=en`."""
    return status.label_en if lang == "en" else published_label
