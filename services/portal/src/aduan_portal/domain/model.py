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


# What a citizen reads: plain words, not the officers' terms ("TL Ditolak", "Disposisi").
CITIZEN_STATUS: dict[ReportStatus, dict[str, str]] = {
    ReportStatus.RECEIVED: {"id": "Diterima", "en": "Received"},
    ReportStatus.COORDINATION: {"id": "Sedang diperiksa petugas", "en": "Being checked"},
    ReportStatus.DISPATCHED: {
        "id": "Diteruskan ke instansi yang berwenang",
        "en": "Forwarded to the responsible agency",
    },
    ReportStatus.IN_PROGRESS: {"id": "Sedang dikerjakan", "en": "Being worked on"},
    ReportStatus.AWAITING_VALIDATION: {
        "id": "Hasil pekerjaan sedang diperiksa",
        "en": "The work is being checked",
    },
    ReportStatus.FIELD_VERIFICATION: {
        "id": "Dicek langsung di lapangan",
        "en": "Being checked on site",
    },
    ReportStatus.FOLLOWUP_REJECTED: {
        "id": "Hasil belum memadai, dikerjakan lagi",
        "en": "Not fixed well enough yet, being redone",
    },
    ReportStatus.COMPLETED: {"id": "Selesai", "en": "Resolved"},
    ReportStatus.REJECTED: {"id": "Tidak dapat diproses", "en": "Cannot be processed"},
    ReportStatus.MERGED: {
        "id": "Digabung dengan laporan lain tentang masalah yang sama",
        "en": "Merged with a report about the same problem",
    },
}


def shown_status_label(status: ReportStatus | str, published_label: str, lang: Language) -> str:
    """The status in the citizen's words and language (`published_label` is the officers'
    term, kept for a status this portal does not know yet)."""
    try:
        words = CITIZEN_STATUS.get(ReportStatus(status))
    except ValueError:
        words = None
    return words[lang] if words else published_label
