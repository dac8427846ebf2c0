"""The public read model: the gateway's redacted projection -> the rows the portal shows.

The topic is compacted and keyed by report id, so the portal may see a report's events again
(replays, redeliveries) or, across a rebalance, an older one after a newer one. A row only
ever moves forward: a publication replaces it when strictly newer, a withdrawal when at
least as new (when in doubt, a report is not shown). A batch is reduced to the one event
per report that would win if its events were applied one by one, and the store writes all
of them in one statement with the same rule, so the result is the one-by-one result.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

from aduan_contracts.events import (
    PublicReportEvent,
    PublicReportPublished,
    PublicReportWithdrawn,
)
from aduan_portal.domain import snap

__all__ = ["PublicRow", "PublicRowStore", "apply_public_events", "newest_per_report", "row_of"]


@dataclass(frozen=True, slots=True)
class PublicRow:
    """One report as the portal shows it (a withdrawn one keeps nothing but its ids)."""

    report_id: UUID
    public_id: str
    title: str | None
    text: str
    category: str | None
    agency_id: str | None
    status: str
    status_label: str
    channel: str
    area: str | None
    area_code: str | None
    month: str
    confidentiality_label: str
    timeline: list[dict[str, Any]]
    withdrawn: bool
    updated_at: datetime
    completed_hours: float | None
    coarse_lat: float | None
    coarse_lon: float | None


class PublicRowStore(Protocol):
    async def write_if_newer(self, rows: list[PublicRow]) -> set[UUID]:
        """Insert each row, or replace the stored one when the row is newer (strictly for a
        publication, at least as new for a withdrawal); the ids written."""
        ...


def _coarse(event: PublicReportPublished) -> tuple[float | None, float | None]:
    """The event's `coarse_point` snapped to the public grid, or (None, None).

    Read with getattr: the field is additive in the contract, and events published before
    it existed have none."""
    point = getattr(event, "coarse_point", None)
    lat, lon = getattr(point, "lat", None), getattr(point, "lon", None)
    if lat is None or lon is None:
        return None, None
    return snap(float(lat)), snap(float(lon))


def row_of(event: PublicReportEvent) -> PublicRow:
    if isinstance(event, PublicReportWithdrawn):
        # The content is dropped, not just hidden: what is no longer public is not kept.
        return PublicRow(
            report_id=event.report_id,
            public_id=event.public_id,
            title=None,
            text="",
            category=None,
            agency_id=None,
            status="withdrawn",
            status_label="",
            channel="",
            area=None,
            area_code=None,
            month="",
            confidentiality_label="",
            timeline=[],
            withdrawn=True,
            updated_at=event.occurred_at,
            completed_hours=None,
            coarse_lat=None,
            coarse_lon=None,
        )
    lat, lon = _coarse(event)
    return PublicRow(
        report_id=event.report_id,
        public_id=event.public_id,
        title=event.title,
        text=event.text,
        category=event.category,
        agency_id=event.agency_id,
        status=event.status.value,
        status_label=event.status_label,
        channel=event.channel.value,
        area=event.area,
        # Additive in the contract: events published before it have none.
        area_code=getattr(event, "area_code", None),
        month=event.month,
        confidentiality_label=event.confidentiality_label,
        timeline=[t.model_dump(mode="json") for t in event.timeline],
        withdrawn=False,
        updated_at=event.occurred_at,
        completed_hours=event.completed_hours,
        coarse_lat=lat,
        coarse_lon=lon,
    )


def newest_per_report(events: list[PublicReportEvent]) -> list[PublicReportEvent]:
    """Per report, the event the row would reflect after applying `events` one by one: the
    latest; on a tie a withdrawal beats a publication, and between equals the first
    (a later copy is not strictly newer)."""
    winner: dict[UUID, PublicReportEvent] = {}
    for event in events:
        held = winner.get(event.report_id)
        if held is None:
            winner[event.report_id] = event
            continue
        withdrawal = isinstance(event, PublicReportWithdrawn)
        if event.occurred_at > held.occurred_at or (
            withdrawal and event.occurred_at == held.occurred_at
        ):
            winner[event.report_id] = event
    return list(winner.values())


async def apply_public_events(
    store: PublicRowStore, events: list[PublicReportEvent]
) -> tuple[int, int]:
    """Apply a batch; (rows written, events that changed nothing: stale or superseded)."""
    rows = [row_of(e) for e in newest_per_report(events)]
    written = await store.write_if_newer(rows)
    return len(written), len(events) - len(written)
