"""Kafka subscriber: the gateway's public projection -> the portal's read model.

The topic is compacted and keyed by report id, so the portal may see a report's events again
(replays, redeliveries) or, across a rebalance, an older one after a newer one. Each event is
applied once (inbox) and only if it is newer than what the row already reflects.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from aduan_contracts.events import (
    PublicReportEvent,
    PublicReportPublished,
    PublicReportWithdrawn,
)
from aduan_contracts.topics import PUBLIC_REPORTS
from aduan_kit.batching import subscribe_batches
from aduan_kit.logging import get_logger
from aduan_kit.runtime import ServiceRuntime
from aduan_portal.domain import snap
from aduan_portal.tables import INBOX
from aduan_portal.tables import PUBLIC_REPORTS as TABLE

__all__ = ["apply_public_event", "register_handlers"]

log = get_logger(__name__)

CONSUMER = "portal.on_public_report"


def _coarse(event: PublicReportPublished) -> tuple[float | None, float | None]:
    """The event's `coarse_point` snapped to the public grid, or (None, None).

    Read with getattr: the field is additive in the contract, and events published before
    it existed have none."""
    point = getattr(event, "coarse_point", None)
    lat, lon = getattr(point, "lat", None), getattr(point, "lon", None)
    if lat is None or lon is None:
        return None, None
    return snap(float(lat)), snap(float(lon))


def _published_values(event: PublicReportPublished) -> dict[str, Any]:
    lat, lon = _coarse(event)
    return {
        "report_id": event.report_id,
        "public_id": event.public_id,
        "title": event.title,
        "text": event.text,
        "category": event.category,
        "agency_id": event.agency_id,
        "status": event.status.value,
        "status_label": event.status_label,
        "channel": event.channel.value,
        "area": event.area,
        # Additive in the contract: events published before it have none.
        "area_code": getattr(event, "area_code", None),
        "month": event.month,
        "confidentiality_label": event.confidentiality_label,
        "timeline": [t.model_dump(mode="json") for t in event.timeline],
        "withdrawn": False,
        "updated_at": event.occurred_at,
        "completed_hours": event.completed_hours,
        "coarse_lat": lat,
        "coarse_lon": lon,
    }


def _tombstone_values(event: PublicReportWithdrawn) -> dict[str, Any]:
    # The content is dropped, not just hidden: what is no longer public is not kept here.
    return {
        "report_id": event.report_id,
        "public_id": event.public_id,
        "title": None,
        "text": "",
        "category": None,
        "agency_id": None,
        "status": "withdrawn",
        "status_label": "",
        "channel": "",
        "area": None,
        "area_code": None,
        "month": "",
        "confidentiality_label": "",
        "timeline": [],
        "withdrawn": True,
        "updated_at": event.occurred_at,
        "completed_hours": None,
        "coarse_lat": None,
        "coarse_lon": None,
    }


async def apply_public_event(session: AsyncSession, event: PublicReportEvent) -> bool:
    """Upsert (published) or tombstone (withdrawn) unless the row already reflects a newer
    event. Returns whether the row changed."""
    if isinstance(event, PublicReportPublished):
        values = _published_values(event)
        # Strictly newer: a replayed copy of the same publication changes nothing.
        newer = TABLE.c.updated_at < event.occurred_at
    else:
        values = _tombstone_values(event)
        # A withdrawal wins a tie: when in doubt, the report is not shown.
        newer = TABLE.c.updated_at <= event.occurred_at
    insert_row = insert(TABLE).values(**values)
    upsert = insert_row.on_conflict_do_update(
        index_elements=[TABLE.c.report_id],
        set_={k: insert_row.excluded[k] for k in values if k != "report_id"},
        where=newer,
    ).returning(TABLE.c.report_id)
    return (await session.execute(upsert)).first() is not None


def register_handlers(runtime: ServiceRuntime) -> None:
    async def on_public_report(session: AsyncSession, event: PublicReportEvent) -> None:
        changed = await apply_public_event(session, event)
        log.info(
            "public report event applied" if changed else "public report event was stale",
            report_id=str(event.report_id),
            event_id=str(event.event_id),
            event_type=event.event_type,
        )

    subscribe_batches(
        runtime,
        runtime.topic(PUBLIC_REPORTS.name),
        model=PublicReportEvent,
        consumer=CONSUMER,
        inbox=INBOX,
        apply=on_public_report,
        title="portal.on_public_report",
        description="Builds the public read model from the gateway's redacted projection.",
    )
