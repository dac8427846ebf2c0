"""Reading and writing the gateway's tables (the read model and the access log)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from sqlalchemy import func, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from aduan_contracts.enums import Channel, Privacy, ReportStatus, Role
from aduan_contracts.events import ReportStatusChanged, ReportSubmitted
from aduan_contracts.values import Location, PhotoRef, SealedIdentity
from aduan_gateway.domain.audit import AccessEntry, chain_hash
from aduan_gateway.domain.model import ReportRecord, TimelineRecord
from aduan_gateway.tables import ACCESS_LOG, REPORTS, TIMELINE

__all__ = [
    "append_access_log",
    "apply_content",
    "apply_status",
    "list_public",
    "load_report",
]

# Serializes access-log appends so the hash chain stays linear across replicas.
_ACCESS_LOG_LOCK = 727275


async def apply_content(session: AsyncSession, event: ReportSubmitted) -> bool:
    """Store a report's content; True when it was new (a status may already be there)."""
    content: dict[str, Any] = {
        "receipt_code": event.receipt_code,
        "channel": event.channel.value,
        "privacy": event.privacy.value,
        "has_content": True,
        "title": event.title,
        "text": event.text,
        "language": event.language,
        "category_hint": event.category_hint,
        "location": event.location.model_dump(mode="json") if event.location else None,
        "photos": [p.model_dump(mode="json") for p in event.photos],
        "received_at": event.received_at,
        "sealed_identity": event.reporter.model_dump(mode="json") if event.reporter else None,
        "updated_at": func.now(),
    }
    stmt = insert(REPORTS).values(report_id=event.report_id, **content)
    upsert = stmt.on_conflict_do_update(
        index_elements=[REPORTS.c.report_id],
        set_={k: stmt.excluded[k] for k in content},
        # Content is written once: a second submission for the same id changes nothing.
        where=REPORTS.c.has_content.is_(False),
    ).returning(REPORTS.c.report_id)
    return (await session.execute(upsert)).first() is not None


async def apply_status(session: AsyncSession, event: ReportStatusChanged) -> bool:
    """Record a transition; the current status moves only forward (by version), because
    the status and content topics, and redeliveries, may arrive in any order. True when
    anything visible changed (the current status or the timeline)."""
    status: dict[str, Any] = {
        "status": event.to_status.value,
        "status_version": event.version,
        # Workflow's events carry the report's category and agency after the transition.
        "category": event.category,
        "agency_id": event.agency_id,
        "updated_at": func.now(),
    }
    stmt = insert(REPORTS).values(
        report_id=event.report_id,
        channel=event.channel.value,
        receipt_code=event.receipt_code,
        **status,
    )
    upsert = stmt.on_conflict_do_update(
        index_elements=[REPORTS.c.report_id],
        set_={k: stmt.excluded[k] for k in status},
        where=REPORTS.c.status_version < stmt.excluded.status_version,
    ).returning(REPORTS.c.report_id)
    moved = (await session.execute(upsert)).first() is not None

    entry = (
        insert(TIMELINE)
        .values(
            report_id=event.report_id,
            version=event.version,
            status=event.to_status.value,
            agency_id=event.agency_id,
            actor_role=event.actor.role.value,
            actor_agency=event.actor.agency_id,
            actor_display_name=event.actor.display_name,
            reason=event.reason,
            follow_up_note=event.follow_up.note if event.follow_up else None,
            occurred_at=event.occurred_at,
        )
        .on_conflict_do_nothing(constraint="uq_timeline_report_version")
        .returning(TIMELINE.c.version)
    )
    added = (await session.execute(entry)).first() is not None
    return moved or added


async def load_report(
    session: AsyncSession, report_id: UUID, for_update: bool = False
) -> ReportRecord | None:
    query = select(REPORTS).where(REPORTS.c.report_id == report_id)
    if for_update:
        query = query.with_for_update()
    row = (await session.execute(query)).mappings().first()
    if row is None:
        return None
    timeline = await _timelines(session, [report_id])
    return _record(row, timeline.get(report_id, ()))


async def list_public(session: AsyncSession, limit: int, offset: int) -> list[ReportRecord]:
    """Public, complete, not rejected reports, newest first."""
    query = (
        select(REPORTS)
        .where(
            REPORTS.c.privacy == Privacy.PUBLIC.value,
            REPORTS.c.has_content.is_(True),
            REPORTS.c.status.is_not(None),
            REPORTS.c.status != ReportStatus.REJECTED.value,
        )
        .order_by(REPORTS.c.received_at.desc(), REPORTS.c.report_id)
        .limit(limit)
        .offset(offset)
    )
    rows = (await session.execute(query)).mappings().all()
    timelines = await _timelines(session, [r["report_id"] for r in rows])
    return [_record(r, timelines.get(r["report_id"], ())) for r in rows]


async def append_access_log(
    session: AsyncSession,
    subject: str,
    role: Role,
    agency_id: str | None,
    report_id: UUID,
    fields: tuple[str, ...],
) -> str:
    """Append one officer read to the hash-chained access log; returns the entry's hash."""
    await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _ACCESS_LOG_LOCK})
    prev_hash = await session.scalar(
        select(ACCESS_LOG.c.hash).order_by(ACCESS_LOG.c.id.desc()).limit(1)
    )
    entry = AccessEntry(
        at=datetime.now(UTC),
        subject=subject,
        role=role.value,
        agency_id=agency_id,
        report_id=report_id,
        fields=tuple(sorted(fields)),
    )
    digest = chain_hash(prev_hash, entry)
    await session.execute(
        ACCESS_LOG.insert().values(
            at=entry.at,
            subject=entry.subject,
            role=entry.role,
            agency_id=entry.agency_id,
            report_id=entry.report_id,
            fields=list(entry.fields),
            prev_hash=prev_hash,
            hash=digest,
        )
    )
    return digest


async def _timelines(
    session: AsyncSession, report_ids: list[UUID]
) -> dict[UUID, tuple[TimelineRecord, ...]]:
    if not report_ids:
        return {}
    rows = (
        await session.execute(
            select(TIMELINE)
            .where(TIMELINE.c.report_id.in_(report_ids))
            .order_by(TIMELINE.c.report_id, TIMELINE.c.version)
        )
    ).mappings()
    result: dict[UUID, list[TimelineRecord]] = {}
    for r in rows:
        result.setdefault(r["report_id"], []).append(
            TimelineRecord(
                version=r["version"],
                status=ReportStatus(r["status"]),
                occurred_at=r["occurred_at"],
                actor_role=Role(r["actor_role"]),
                agency_id=r["agency_id"],
                actor_agency=r["actor_agency"],
                actor_display_name=r["actor_display_name"],
                reason=r["reason"],
                follow_up_note=r["follow_up_note"],
            )
        )
    return {k: tuple(v) for k, v in result.items()}


def _record(row: Any, timeline: tuple[TimelineRecord, ...]) -> ReportRecord:
    return ReportRecord(
        report_id=row["report_id"],
        channel=Channel(row["channel"]),
        receipt_code=row["receipt_code"],
        privacy=Privacy(row["privacy"]),
        has_content=row["has_content"],
        title=row["title"],
        text=row["text"],
        category=row["category"],
        category_hint=row["category_hint"],
        agency_id=row["agency_id"],
        location=Location.model_validate(row["location"]) if row["location"] else None,
        photos=tuple(PhotoRef.model_validate(p) for p in row["photos"] or ()),
        received_at=row["received_at"],
        status=ReportStatus(row["status"]) if row["status"] else None,
        status_version=row["status_version"],
        sealed_identity=(
            SealedIdentity.model_validate(row["sealed_identity"])
            if row["sealed_identity"]
            else None
        ),
        timeline=timeline,
    )
