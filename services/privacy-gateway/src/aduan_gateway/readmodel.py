"""Reading and writing the gateway's tables (the read model and the access log)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from cryptography.exceptions import InvalidTag
from sqlalchemy import Select, func, or_, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from aduan_contracts.enums import Channel, Privacy, ReportStatus, Role
from aduan_contracts.events import ReportStatusChanged, ReportSubmitted
from aduan_contracts.values import FollowUp, Location, PhotoRef, SealedIdentity
from aduan_gateway.domain.audit import AccessEntry, chain_hash
from aduan_gateway.domain.model import ReportRecord, TimelineRecord
from aduan_gateway.domain.redaction import identity_terms, scrub_terms
from aduan_gateway.tables import ACCESS_LOG, REPORTER_KEYS, REPORTS, TIMELINE
from aduan_kit.crypto import open_identity

__all__ = [
    "ReportFilter",
    "access_log_rows",
    "append_access_log",
    "apply_content",
    "apply_status",
    "delete_key",
    "duplicate_candidates",
    "erase_identity",
    "find_by_receipt",
    "get_key",
    "list_public",
    "list_reports",
    "load_report",
    "reports_of_key",
    "store_key",
    "verify_access_log",
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
        "sealed_identity": (
            event.reporter.model_dump(mode="json")
            if event.reporter and not await _shredded(session, event.reporter.key_id)
            else None
        ),
        "reporter_key_id": event.reporter.key_id if event.reporter else None,
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


async def _shredded(session: AsyncSession, key_id: UUID) -> bool:
    shredded_at = await session.scalar(
        select(REPORTER_KEYS.c.shredded_at).where(REPORTER_KEYS.c.key_id == key_id)
    )
    return shredded_at is not None


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
            follow_up=event.follow_up.model_dump(mode="json") if event.follow_up else None,
            extra=_extra(event),
            occurred_at=event.occurred_at,
        )
        .on_conflict_do_nothing(constraint="uq_timeline_report_version")
        .returning(TIMELINE.c.version)
    )
    added = (await session.execute(entry)).first() is not None
    return moved or added


def _select() -> Select[Any]:
    """Reports with the reporter's key when the gateway holds it (to hide the reporter's
    name in text; the key itself never leaves this module)."""
    return select(
        REPORTS,
        REPORTER_KEYS.c.key.label("reporter_key"),
        REPORTER_KEYS.c.key_id.label("key_row"),
    ).select_from(
        REPORTS.outerjoin(REPORTER_KEYS, REPORTER_KEYS.c.key_id == REPORTS.c.reporter_key_id)
    )


async def load_report(
    session: AsyncSession, report_id: UUID, for_update: bool = False
) -> ReportRecord | None:
    query = _select().where(REPORTS.c.report_id == report_id)
    if for_update:
        query = query.with_for_update(of=REPORTS)
    row = (await session.execute(query)).mappings().first()
    if row is None:
        return None
    timeline = await _timelines(session, [report_id])
    return _record(row, timeline.get(report_id, ()))


@dataclass(frozen=True, slots=True)
class ReportFilter:
    """What a list may be narrowed by (all optional; combined with AND)."""

    status: ReportStatus | None = None
    category: str | None = None
    agency_id: str | None = None
    privacy: Privacy | None = None
    area: str | None = None
    search: str | None = None


def _filtered(query: Select[Any], f: ReportFilter) -> Select[Any]:
    if f.status is not None:
        query = query.where(REPORTS.c.status == f.status.value)
    if f.category is not None:
        query = query.where(
            func.coalesce(REPORTS.c.category, REPORTS.c.category_hint) == f.category
        )
    if f.agency_id is not None:
        query = query.where(REPORTS.c.agency_id == f.agency_id)
    if f.privacy is not None:
        query = query.where(REPORTS.c.privacy == f.privacy.value)
    if f.area is not None:
        query = query.where(REPORTS.c.location["area"].astext == f.area)
    if f.search:
        # Escaped so a caller's % and _ are literal: search is substring, not a pattern.
        needle = "%" + f.search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = query.where(
            or_(
                REPORTS.c.text.ilike(needle, escape="\\"),
                REPORTS.c.title.ilike(needle, escape="\\"),
            )
        )
    return query


async def _records(session: AsyncSession, query: Select[Any]) -> list[ReportRecord]:
    rows = (await session.execute(query)).mappings().all()
    timelines = await _timelines(session, [r["report_id"] for r in rows])
    return [_record(r, timelines.get(r["report_id"], ())) for r in rows]


def _complete() -> tuple[Any, ...]:
    return (
        REPORTS.c.has_content.is_(True),
        REPORTS.c.status.is_not(None),
        REPORTS.c.received_at.is_not(None),
    )


async def list_public(
    session: AsyncSession, limit: int, offset: int, f: ReportFilter | None = None
) -> list[ReportRecord]:
    """Public, complete, not rejected reports, newest first."""
    query = _select().where(
        REPORTS.c.privacy == Privacy.PUBLIC.value,
        *_complete(),
        REPORTS.c.status != ReportStatus.REJECTED.value,
    )
    query = _filtered(query, f or ReportFilter(privacy=None))
    query = query.order_by(REPORTS.c.received_at.desc(), REPORTS.c.report_id)
    return await _records(session, query.limit(limit).offset(offset))


async def list_reports(
    session: AsyncSession,
    limit: int,
    offset: int,
    f: ReportFilter,
    agency_id: str | None = None,
    reporter_key_id: UUID | None = None,
) -> list[ReportRecord]:
    """Complete reports within a scope: an agency's, a reporter's, or (neither) all."""
    query = _filtered(_select().where(*_complete()), f)
    if agency_id is not None:
        query = query.where(REPORTS.c.agency_id == agency_id)
    if reporter_key_id is not None:
        query = query.where(REPORTS.c.reporter_key_id == reporter_key_id)
    query = query.order_by(REPORTS.c.received_at.desc(), REPORTS.c.report_id)
    return await _records(session, query.limit(limit).offset(offset))


async def find_by_receipt(session: AsyncSession, receipt_code: str) -> ReportRecord | None:
    query = _select().where(REPORTS.c.receipt_code == receipt_code, *_complete()).limit(1)
    found = await _records(session, query)
    return found[0] if found else None


async def duplicate_candidates(
    session: AsyncSession, record: ReportRecord, within: timedelta, scan: int = 500
) -> list[ReportRecord]:
    """Complete reports of the same category (or hint) received within `within` of
    `record`, not merged or rejected, not `record` itself; the caller ranks by distance."""
    category = record.shown_category
    if category is None or record.received_at is None:
        return []
    query = _select().where(
        *_complete(),
        REPORTS.c.report_id != record.report_id,
        func.coalesce(REPORTS.c.category, REPORTS.c.category_hint) == category,
        REPORTS.c.received_at >= record.received_at - within,
        REPORTS.c.received_at <= record.received_at + within,
        REPORTS.c.status.not_in((ReportStatus.MERGED.value, ReportStatus.REJECTED.value)),
    )
    query = query.order_by(REPORTS.c.received_at.desc(), REPORTS.c.report_id).limit(scan)
    return await _records(session, query)


async def store_key(session: AsyncSession, key_id: UUID, key: bytes) -> None:
    # Do nothing on conflict: a redelivered issue must never bring back a shredded key.
    await session.execute(
        insert(REPORTER_KEYS).values(key_id=key_id, key=key).on_conflict_do_nothing()
    )


async def get_key(session: AsyncSession, key_id: UUID) -> bytes | None:
    key: bytes | None = await session.scalar(
        select(REPORTER_KEYS.c.key).where(REPORTER_KEYS.c.key_id == key_id)
    )
    return key


async def delete_key(session: AsyncSession, key_id: UUID) -> None:
    """Destroy the key bytes; the row stays as the record that this reporter was erased."""
    stmt = insert(REPORTER_KEYS).values(key_id=key_id, key=None, shredded_at=func.now())
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=[REPORTER_KEYS.c.key_id], set_={"key": None, "shredded_at": func.now()}
        )
    )


async def erase_identity(session: AsyncSession, key_id: UUID) -> list[UUID]:
    """Erase a reporter from every report of theirs, while the key can still open the
    identity: their name, contact and handle are hidden in the stored title and text (for
    every role), and the sealed copy is dropped (the key id stays: it opens nothing, and
    keeps the pseudonym stable for officers). Returns the reports changed."""
    rows = (
        (await session.execute(_select().where(REPORTS.c.reporter_key_id == key_id)))
        .mappings()
        .all()
    )
    changed: list[UUID] = []
    for row in rows:
        terms = _terms(row)
        values: dict[str, Any] = {"sealed_identity": None, "updated_at": func.now()}
        if terms:
            values["text"] = scrub_terms(row["text"], terms) if row["text"] else row["text"]
            values["title"] = scrub_terms(row["title"], terms) if row["title"] else row["title"]
        await session.execute(
            update(REPORTS).where(REPORTS.c.report_id == row["report_id"]).values(**values)
        )
        changed.append(row["report_id"])
    return changed


async def reports_of_key(session: AsyncSession, key_id: UUID) -> list[UUID]:
    rows = await session.execute(
        select(REPORTS.c.report_id).where(REPORTS.c.reporter_key_id == key_id)
    )
    return list(rows.scalars())


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


async def access_log_rows(
    session: AsyncSession, report_ids: list[UUID] | None = None, limit: int = 1000
) -> list[Any]:
    query = select(ACCESS_LOG).order_by(ACCESS_LOG.c.id)
    if report_ids is not None:
        query = query.where(ACCESS_LOG.c.report_id.in_(report_ids))
    return list((await session.execute(query.limit(limit))).mappings().all())


async def verify_access_log(session: AsyncSession) -> tuple[int, int | None]:
    """Walk the whole chain in order: (rows checked, id of the first bad row or None)."""
    checked = 0
    previous: str | None = None
    result = await session.stream(select(ACCESS_LOG).order_by(ACCESS_LOG.c.id))
    async for row in result.mappings():
        entry = AccessEntry(
            at=row["at"],
            subject=row["subject"],
            role=row["role"],
            agency_id=row["agency_id"],
            report_id=row["report_id"],
            fields=tuple(row["fields"]),
        )
        if row["prev_hash"] != previous or chain_hash(row["prev_hash"], entry) != row["hash"]:
            return checked, int(row["id"])
        previous = row["hash"]
        checked += 1
    return checked, None


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
                follow_up=FollowUp.model_validate(r["follow_up"]) if r["follow_up"] else None,
                extra=r["extra"] or {},
            )
        )
    return {k: tuple(v) for k, v in result.items()}


def _terms(row: Any) -> tuple[str, ...]:
    key = row.get("reporter_key")
    if key is None or row["sealed_identity"] is None:
        return ()
    try:
        identity = open_identity(SealedIdentity.model_validate(row["sealed_identity"]), key)
    except (InvalidTag, ValueError):
        return ()
    return identity_terms(identity)


def _record(row: Any, timeline: tuple[TimelineRecord, ...]) -> ReportRecord:
    return ReportRecord(
        reporter_terms=_terms(row),
        # Sealed identity but no key yet (the keys topic may lag the intake topic): the
        # reporter's name cannot be hidden in text yet, so views fail closed.
        identity_pending=row["sealed_identity"] is not None and row.get("key_row") is None,
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
        reporter_key_id=row["reporter_key_id"],
        timeline=timeline,
    )


# Fields workflow may add to ReportStatusChanged later (additive contract changes): read
# when present, so SLA badges and evidence show up without a gateway release.
_EXTRA_FIELDS = ("due_at", "sla_stage", "field_result", "evidence")


def _extra(event: ReportStatusChanged) -> dict[str, Any] | None:
    dumped = event.model_dump(mode="json")
    extra = {k: dumped[k] for k in _EXTRA_FIELDS if dumped.get(k) is not None}
    return extra or None
